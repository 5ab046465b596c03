-- The database behind the testdata archives: a few tables of each kind a
-- data block comes from (rows, an empty table, odd names, bytea, large
-- objects), and objects without data (a view, a function, a sequence).
CREATE TABLE orders (id int PRIMARY KEY, note text);
INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, 300) g;
CREATE TABLE "Odd Name" (x int, y text);
INSERT INTO "Odd Name" VALUES (1, E'tab\there'), (2, 'newline\n'), (3, NULL);
CREATE TABLE empty_one (x int);
CREATE SCHEMA s2;
CREATE TABLE s2.items (id int, data bytea);
INSERT INTO s2.items SELECT g, decode(md5(g::text), 'hex') FROM generate_series(1, 200) g;
CREATE VIEW v AS SELECT count(*) FROM orders;
CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE SEQUENCE seq;
SELECT setval('seq', 7);
SELECT lo_from_bytea(0, 'first large object');
SELECT lo_from_bytea(0, decode(repeat('cd', 3000), 'hex'));
