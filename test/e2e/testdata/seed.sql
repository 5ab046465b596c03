-- A small shop: the object kinds a logical backup must carry (types,
-- sequences, foreign keys, indexes, views, functions, a partitioned table,
-- jsonb, numeric, timestamps, NULLs) with enough rows to be worth copying.
-- Deterministic (no random()), so two seeds give the same digests.
CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled');

CREATE TABLE customers (
  id      serial PRIMARY KEY,
  email   text NOT NULL UNIQUE,
  name    text NOT NULL,
  country char(2),
  created timestamptz NOT NULL
);
CREATE TABLE products (
  id    serial PRIMARY KEY,
  sku   text NOT NULL UNIQUE,
  title text NOT NULL,
  price numeric(10,2) NOT NULL CHECK (price >= 0),
  tags  text[]
);
CREATE TABLE orders (
  id       bigserial PRIMARY KEY,
  customer int NOT NULL REFERENCES customers,
  status   order_status NOT NULL,
  placed   timestamptz NOT NULL,
  meta     jsonb
);
CREATE INDEX orders_customer ON orders (customer);
CREATE TABLE order_items (
  order_id bigint NOT NULL REFERENCES orders ON DELETE CASCADE,
  product  int NOT NULL REFERENCES products,
  qty      int NOT NULL CHECK (qty > 0),
  price    numeric(10,2) NOT NULL,
  PRIMARY KEY (order_id, product)
);
CREATE TABLE events (
  id   bigint NOT NULL,
  at   timestamptz NOT NULL,
  kind text NOT NULL,
  body jsonb
) PARTITION BY RANGE (at);
CREATE TABLE events_2026_h1 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2026-07-01');
CREATE TABLE events_2026_h2 PARTITION OF events FOR VALUES FROM ('2026-07-01') TO ('2027-01-01');

CREATE VIEW order_totals AS
  SELECT o.id, o.customer, sum(i.qty * i.price) AS total
  FROM orders o JOIN order_items i ON i.order_id = o.id GROUP BY o.id;
CREATE FUNCTION customer_spend(c int) RETURNS numeric LANGUAGE sql STABLE
  AS 'SELECT coalesce(sum(total), 0) FROM order_totals WHERE customer = c';

INSERT INTO customers (email, name, country, created)
  SELECT 'customer' || g || '@example.com', 'Customer ' || g,
         (ARRAY['DE','FR','NL','US',NULL])[1 + g % 5],
         timestamptz '2026-01-01' + g * interval '37 minutes'
  FROM generate_series(1, 2000) g;
INSERT INTO products (sku, title, price, tags)
  SELECT 'SKU-' || lpad(g::text, 5, '0'), 'Product ' || g, (g % 97) * 1.25 + 0.99,
         CASE WHEN g % 3 = 0 THEN ARRAY['sale'] WHEN g % 3 = 1 THEN ARRAY['new', 'eco'] END
  FROM generate_series(1, 500) g;
INSERT INTO orders (customer, status, placed, meta)
  SELECT 1 + g % 2000, (ARRAY['new','paid','shipped','cancelled']::order_status[])[1 + g % 4],
         timestamptz '2026-02-01' + g * interval '7 minutes',
         jsonb_build_object('channel', (ARRAY['web','app','phone'])[1 + g % 3], 'n', g)
  FROM generate_series(1, 20000) g;
INSERT INTO order_items (order_id, product, qty, price)
  SELECT o, 1 + (o * 7 + k * 13) % 500, 1 + (o + k) % 4, ((o * 7 + k * 13) % 97) * 1.25 + 0.99
  FROM generate_series(1, 20000) o, generate_series(1, 3) k;
INSERT INTO events (id, at, kind, body)
  SELECT g, timestamptz '2026-01-01' + g * interval '5 minutes',
         (ARRAY['view','cart','checkout'])[1 + g % 3], jsonb_build_object('session', g % 977)
  FROM generate_series(1, 30000) g;
ANALYZE;

-- The database the Forbid scenario locks, so that its backups hang without
-- holding up the others.
CREATE DATABASE slow;
\connect slow
CREATE TABLE held (id int PRIMARY KEY, note text);
INSERT INTO held SELECT g, 'row ' || g FROM generate_series(1, 100) g;
