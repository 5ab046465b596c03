package rowcount

import (
	"reflect"
	"strings"
	"testing"
)

const plainScript = `--
-- PostgreSQL database dump
--

\restrict abc

SET statement_timeout = 0;

CREATE FUNCTION public.f() RETURNS void
    LANGUAGE sql
    AS $$
COPY public.fake (a) FROM stdin;
$$;

--
-- Data for Name: a.b c; Type: TABLE DATA; Schema: Odd "Schema"; Owner: postgres
--

COPY "Odd ""Schema"""."a.b c" (id, t) FROM stdin;
1	line1\nline2\ttab\\back
2	\N

\.


--
-- Data for Name: empty; Type: TABLE DATA; Schema: public; Owner: postgres
--

COPY public.empty (id) FROM stdin;
\.


--
-- Data for Name: nocols; Type: TABLE DATA; Schema: public; Owner: postgres
--

COPY public.nocols  FROM stdin;


\.


--
-- Data for Name: ünï; Type: TABLE DATA; Schema: public; Owner: postgres
--

COPY public."ünï" (x) FROM stdin;
x\.
\\.
\.


SELECT pg_catalog.setval('public.s', 1, false);

--
-- PostgreSQL database dump complete
--

\unrestrict abc

`

var plainWant = []Table{
	{Schema: `Odd "Schema"`, Name: "a.b c", Rows: 3},
	{Schema: "public", Name: "empty", Rows: 0},
	{Schema: "public", Name: "nocols", Rows: 2},
	{Schema: "public", Name: "ünï", Rows: 2},
}

func TestPlain(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		want    []Table
		wantErr error
	}{
		{name: "script", script: plainScript, want: plainWant},
		{name: "no data", script: "SET x = 1;\n--\n-- PostgreSQL database dump complete\n--\n", want: []Table{}},
		{name: "no dump complete", script: strings.Split(plainScript, "SELECT pg_catalog")[0], wantErr: ErrTruncated},
		{name: "cut in data", script: strings.Split(plainScript, "2\t\\N")[0], wantErr: ErrTruncated},
		{name: "empty", script: "", wantErr: ErrTruncated},
		{name: "inserts", script: "--\n-- Data for Name: t; Type: TABLE DATA; Schema: s; Owner: o\n--\n\nINSERT INTO s.t VALUES (1);\n", wantErr: ErrUnsupported},
		{name: "inserts, empty table", script: "--\n-- Data for Name: t; Type: TABLE DATA; Schema: s; Owner: o\n--\n\n\n\n--\n-- Name: x; Type: ACL; Schema: -; Owner: o\n--\n\nGRANT ALL ON s.t TO x;\n-- PostgreSQL database dump complete\n", wantErr: ErrUnsupported},
		{name: "bad COPY name", script: "-- Data for Name: t; Type: TABLE DATA; Schema: s; Owner: o\nCOPY \"unterminated FROM stdin;\n", wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{1 << 20, 1, 3} {
				got, err := feed(NewPlain, []byte(tt.script), size)
				check(t, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestPlainSplitWrites splits the script at every byte boundary.
func TestPlainSplitWrites(t *testing.T) {
	b := []byte(plainScript)
	for i := 1; i <= len(b); i++ {
		got, err := feed(NewPlain, b, i, len(b))
		if err != nil || !reflect.DeepEqual(got, plainWant) {
			t.Fatalf("split at %d: tables %v, error %v", i, got, err)
		}
	}
}

func TestParseCopyTarget(t *testing.T) {
	tests := []struct {
		in           string
		schema, name string
		ok           bool
	}{
		{"public.t (a, b) FROM stdin;", "public", "t", true},
		{"public.t  FROM stdin;", "public", "t", true},
		{`"Odd ""Schema"""."a.b c" (id) FROM stdin;`, `Odd "Schema"`, "a.b c", true},
		{`""""."""" (id) FROM stdin;`, `"`, `"`, true},
		{`s."ü n" (id) FROM stdin;`, "s", "ü n", true},
		{"t (a) FROM stdin;", "", "", false},
		{`"s.t (a) FROM stdin;`, "", "", false},
		{`s."t`, "", "", false},
		{`s.t`, "", "", false},
	}
	for _, tt := range tests {
		schema, name, err := parseCopyTarget(tt.in)
		if (err == nil) != tt.ok || schema != tt.schema || name != tt.name {
			t.Errorf("parseCopyTarget(%q) = %q, %q, %v", tt.in, schema, name, err)
		}
	}
}
