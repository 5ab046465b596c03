//go:build bench

package bench

import "strconv"

// textShape is text-heavy data: application log lines, prose-like
// articles and JSON documents (support tickets with their messages). It
// compresses well, but not as well as repeated values: the words are drawn
// at random from a vocabulary, the common ones more often, like prose, and
// the log lines carry ids, addresses, durations and hex trace ids.
// Articles above 2 kB are compressed by TOAST on disk, so the raw dump is
// larger than the database here.
var textShape = shape{
	Name: "text",
	Schema: `
CREATE TABLE log_lines (
    id         bigint PRIMARY KEY,
    logged_at  timestamptz NOT NULL,
    host       text NOT NULL,
    service    text NOT NULL,
    level      text NOT NULL,
    message    text NOT NULL
);
CREATE INDEX log_lines_logged_at ON log_lines (logged_at);
CREATE TABLE articles (
    id            bigint PRIMARY KEY,
    title         text NOT NULL,
    author        text NOT NULL,
    published_at  timestamptz NOT NULL,
    body          text NOT NULL
);
CREATE TABLE documents (
    id          bigint PRIMARY KEY,
    created_at  timestamptz NOT NULL,
    doc         jsonb NOT NULL
);
CREATE INDEX documents_created_at ON documents (created_at);
`,
	Tables: []string{"log_lines", "articles", "documents"},
	Fill:   textFillSQL,
}

// Per unit of text data: about 0.65 MB of pg_dump output.
const (
	logLinesPerUnit  = 2000
	articlesPerUnit  = 40
	documentsPerUnit = 300
)

// vocabulary is the words of textShape's prose, the most common first: a
// word is drawn as w[1 + floor(random() * random() * n)] (wordSQL), which
// favours the front of the list the way prose favours its common words.
const vocabulary = `ARRAY['the','of','and','to','a','in','is','that','for','it','as','with','was','on','be','by','this','are','at','from',
'or','have','an','they','which','not','but','we','their','has','one','all','were','can','more','been','there','when','also','other',
'into','than','its','some','time','these','would','only','new','first','may','any','after','most','such','over','data','system','people','between',
'backup','database','server','table','restore','storage','night','morning','customer','order','delivery','service','report','team','project','change',
'release','update','problem','question','answer','version','network','disk','memory','process','schedule','window','cluster','region','policy','account',
'invoice','payment','shipment','warehouse','garden','river','mountain','village','kitchen','library','journey','weather','harvest','festival','museum','market',
'quietly','quickly','carefully','finally','usually','perhaps','although','because','however','therefore','meanwhile','yesterday','tomorrow','everywhere']`

// wordSQL is one word of the vocabulary w, the common ones more often.
const wordSQL = `w[1 + floor(random() * random() * array_length(w, 1))::int]`

// wordsSQL is a subquery of n (an SQL expression that refers to the outer
// row, so it is evaluated once per row) words of the vocabulary w.
// ORDER BY i is what makes string_agg the subquery's aggregate: with only
// the outer query's w in its arguments, SQL would make it an aggregate of
// the outer query.
func wordsSQL(n string) string {
	return `(SELECT string_agg(` + wordSQL + `, ' ' ORDER BY i) FROM generate_series(1, ` + n + `) AS i)`
}

// textFillSQL is textShape's Fill.
var textFillSQL = []string{
	`INSERT INTO log_lines
SELECT g,
       timestamptz '2024-06-01 00:00:00+00' + g * interval '40 milliseconds' + random() * interval '40 milliseconds',
       'web-' || lpad((g % 24)::text, 2, '0') || '.eu-west-1.internal',
       svc[1 + (g * 7) % array_length(svc, 1)],
       CASE WHEN r < 0.80 THEN 'INFO' WHEN r < 0.92 THEN 'DEBUG' WHEN r < 0.98 THEN 'WARN' ELSE 'ERROR' END,
       CASE floor(random() * 6)::int
           WHEN 0 THEN (ARRAY['GET','GET','POST','PUT'])[1 + floor(random() * 4)::int] || ' /api/v2/' || res[1 + floor(random() * array_length(res, 1))::int]
                       || '/' || floor(random() * 1000000)::int || ' ' || CASE WHEN random() < 0.95 THEN 200 WHEN random() < 0.6 THEN 404 ELSE 503 END
                       || ' ' || floor(random() * random() * 2000)::int || 'ms user=' || floor(random() * 50000)::int
                       || ' trace=' || substr(md5(random()::text), 1, 16)
           WHEN 1 THEN 'connection from 10.' || (g % 250) || '.' || floor(random() * 255)::int || '.' || floor(random() * 255)::int
                       || ':' || (1024 + floor(random() * 60000)::int) || ' accepted, ' || floor(random() * 400)::int || ' open'
           WHEN 2 THEN 'slow query (' || (500 + floor(random() * 9500)::int) || ' ms): SELECT * FROM ' || res[1 + floor(random() * array_length(res, 1))::int]
                       || ' WHERE ' || col[1 + floor(random() * array_length(col, 1))::int] || ' = ' || floor(random() * 1000000)::int
                       || ' ORDER BY created_at DESC LIMIT ' || 10 * (1 + floor(random() * 10)::int)
           WHEN 3 THEN 'cache miss for key ' || res[1 + floor(random() * array_length(res, 1))::int] || ':' || md5(g::text)
                       || ', loaded in ' || round((random() * 50)::numeric, 2) || ' ms'
           WHEN 4 THEN 'job ' || gen_random_uuid() || ' (' || job[1 + floor(random() * array_length(job, 1))::int] || ') finished in '
                       || round((random() * 120)::numeric, 1) || ' s, ' || floor(random() * 10000)::int || ' items'
           ELSE 'retrying request to ' || svc[1 + floor(random() * array_length(svc, 1))::int] || ' after error: '
                || err[1 + floor(random() * array_length(err, 1))::int] || ' (attempt ' || (1 + floor(random() * 5)::int) || ' of 5)'
       END
FROM (SELECT g, random() AS r
      FROM generate_series($1::bigint * ` + strconv.Itoa(logLinesPerUnit) + ` + 1, $2::bigint * ` + strconv.Itoa(logLinesPerUnit) + `) AS g) AS l,
     (SELECT ARRAY['checkout','catalog','search','accounts','payments','shipping','notifications'] AS svc,
             ARRAY['orders','customers','products','carts','invoices','sessions','reviews'] AS res,
             ARRAY['id','customer_id','order_id','email','sku','created_at'] AS col,
             ARRAY['reindex-search','send-newsletter','expire-sessions','export-invoices','sync-stock'] AS job,
             ARRAY['connection reset by peer','context deadline exceeded','503 Service Unavailable',
                   'i/o timeout','no route to host','TLS handshake timeout'] AS err) AS words`,

	// Articles of 250 to 750 words, in paragraphs of 90.
	`INSERT INTO articles
SELECT g,
       initcap(` + wordsSQL("3 + (g % 6)::int") + `),
       fn[1 + (g * 7) % array_length(fn, 1)] || ' ' || ln[1 + (g * 11) % array_length(ln, 1)],
       timestamptz '2015-01-01 00:00:00+00' + g * interval '47 minutes',
       (SELECT string_agg(` + wordSQL + ` || CASE WHEN random() < 0.07 THEN '.' WHEN random() < 0.05 THEN ',' ELSE '' END,
                          CASE WHEN i % 90 = 0 THEN E'\n\n' ELSE ' ' END ORDER BY i)
        FROM generate_series(1, 250 + (g * 37 % 500)::int) AS i)
FROM generate_series($1::bigint * ` + strconv.Itoa(articlesPerUnit) + ` + 1, $2::bigint * ` + strconv.Itoa(articlesPerUnit) + `) AS g,
     (SELECT ` + vocabulary + ` AS w,
             ARRAY['Anna','Ben','Carla','David','Emma','Felix','Greta','Hugo','Ines','Jonas'] AS fn,
             ARRAY['Schmidt','Martin','Garcia','Rossi','Novak','Jansen','Dubois','Silva'] AS ln) AS words`,

	// Support tickets: a few fields, tags and one to four messages each.
	`INSERT INTO documents
SELECT g, created,
       jsonb_build_object(
           'ticket', 'T-' || lpad(g::text, 8, '0'),
           'subject', ` + wordsSQL("4 + (g % 5)::int") + `,
           'status', (ARRAY['open','pending','solved','closed'])[1 + floor(random() * 4)::int],
           'priority', (ARRAY['low','normal','normal','high','urgent'])[1 + floor(random() * 5)::int],
           'customer', jsonb_build_object(
               'name', fn[1 + (g * 7) % array_length(fn, 1)] || ' ' || ln[1 + (g * 11) % array_length(ln, 1)],
               'email', lower(fn[1 + (g * 7) % array_length(fn, 1)]) || '.' || lower(ln[1 + (g * 11) % array_length(ln, 1)]) || g || '@example.com',
               'plan', (ARRAY['free','team','business'])[1 + g % 3]),
           'tags', (SELECT jsonb_agg(tag[1 + floor(random() * array_length(tag, 1))::int] ORDER BY k) FROM generate_series(0, (g % 4)::int) AS k),
           'messages', (SELECT jsonb_agg(jsonb_build_object(
                               'from', CASE WHEN m % 2 = 1 THEN 'customer' ELSE 'agent' END,
                               'at', created + m * interval '37 minutes',
                               'text', ` + wordsSQL("10 + ((g + m) * 13 % 40)::int") + `))
                        FROM generate_series(1, 1 + (g % 4)::int) AS m))
FROM (SELECT g, timestamptz '2022-01-01 00:00:00+00' + g * interval '3 minutes' AS created
      FROM generate_series($1::bigint * ` + strconv.Itoa(documentsPerUnit) + ` + 1, $2::bigint * ` + strconv.Itoa(documentsPerUnit) + `) AS g) AS d,
     (SELECT ` + vocabulary + ` AS w,
             ARRAY['Anna','Ben','Carla','David','Emma','Felix','Greta','Hugo','Ines','Jonas'] AS fn,
             ARRAY['Schmidt','Martin','Garcia','Rossi','Novak','Jansen','Dubois','Silva'] AS ln,
             ARRAY['billing','login','bug','feature-request','refund','shipping','api','mobile'] AS tag) AS words`,
}
