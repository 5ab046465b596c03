//go:build bench

package bench

import "strconv"

// byteaShape is binary data that does not compress: uploaded files and
// their thumbnails (images, archives, PDFs, which are compressed already)
// and API tokens' digests and nonces. The bytes are random, from
// gen_random_uuid (122 random bits in each 16 bytes; built in, no
// pgcrypto), so no compressor can shrink them. pg_dump writes bytea as
// hex, two characters a byte: the raw dump is about twice the data, and
// the best a compressor can do is to undo that, about 0.5 of the raw
// dump. This is the worst case for the agent's compression: all of its
// CPU time buys nearly nothing.
var byteaShape = shape{
	Name: "bytea",
	Schema: `
CREATE TABLE files (
    id          bigint PRIMARY KEY,
    owner_id    bigint NOT NULL,
    name        text NOT NULL,
    mime_type   text NOT NULL,
    created_at  timestamptz NOT NULL,
    sha256      bytea NOT NULL,
    content     bytea NOT NULL
);
-- What one does for compressed content: without STORAGE EXTERNAL, TOAST
-- would try (and fail) to compress every value.
ALTER TABLE files ALTER COLUMN content SET STORAGE EXTERNAL;
CREATE INDEX files_owner_id ON files (owner_id);
CREATE TABLE thumbnails (
    file_id  bigint PRIMARY KEY,
    width    int NOT NULL,
    height   int NOT NULL,
    image    bytea NOT NULL
);
CREATE TABLE api_tokens (
    id          bigint PRIMARY KEY,
    user_id     bigint NOT NULL,
    digest      bytea NOT NULL,
    nonce       bytea NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE UNIQUE INDEX api_tokens_digest ON api_tokens (digest);
`,
	Tables: []string{"files", "thumbnails", "api_tokens"},
	Fill:   byteaFillSQL,
}

// Per unit of bytea data: about 1.1 MB of pg_dump output.
const (
	filesPerUnit  = 12
	tokensPerUnit = 1500
)

// randomBytes is a subquery of about n random bytes, n a multiple of 16
// and an SQL expression that refers to the outer row, so the server
// evaluates it once per row rather than once per statement.
func randomBytes(n string) string {
	return `(SELECT string_agg(uuid_send(gen_random_uuid()), ''::bytea) FROM generate_series(1, (` + n + `) / 16))`
}

// byteaFillSQL is byteaShape's Fill.
var byteaFillSQL = []string{
	// Files of 4 to 68 KiB, with the sha256 of their content (computed in
	// the outer query: OFFSET 0 keeps the subquery, and with it the one
	// random content per row, from being folded into it).
	`INSERT INTO files
SELECT g, 1 + (g * 7919) % 20000, 'upload-' || g || ext[1 + g % 4], mime[1 + g % 4],
       timestamptz '2021-01-01 00:00:00+00' + g * interval '13 minutes', sha256(content), content
FROM (SELECT g, ` + randomBytes("4096 + (g * 7919) % 65536") + ` AS content
      FROM generate_series($1::bigint * ` + strconv.Itoa(filesPerUnit) + ` + 1, $2::bigint * ` + strconv.Itoa(filesPerUnit) + `) AS g
      OFFSET 0) AS f,
     (SELECT ARRAY['.jpg','.png','.pdf','.zip'] AS ext,
             ARRAY['image/jpeg','image/png','application/pdf','application/zip'] AS mime) AS types`,

	// One thumbnail of 1 to 4 KiB per file.
	`INSERT INTO thumbnails
SELECT g, 160, 90 + (g % 4) * 30, ` + randomBytes("1024 + (g * 131) % 3072") + `
FROM generate_series($1::bigint * ` + strconv.Itoa(filesPerUnit) + ` + 1, $2::bigint * ` + strconv.Itoa(filesPerUnit) + `) AS g`,

	`INSERT INTO api_tokens
SELECT g, 1 + (g * 31) % 50000,
       sha256(int8send(g) || uuid_send(gen_random_uuid())),
       substr(uuid_send(gen_random_uuid()), 1, 12),
       timestamptz '2025-01-01 00:00:00+00' + g * interval '7 seconds'
FROM generate_series($1::bigint * ` + strconv.Itoa(tokensPerUnit) + ` + 1, $2::bigint * ` + strconv.Itoa(tokensPerUnit) + `) AS g`,
}
