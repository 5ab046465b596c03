//go:build bench

package bench

import "strconv"

// numericShape is numbers and timestamps with few strings: sensor
// readings (a time series), a ledger of amounts and balances, and host
// metrics with cumulative counters. Its dump is digits, tabs and
// timestamps, which compress well and fast; the values vary enough
// (noise, measured precision) that they are not one repeated pattern.
var numericShape = shape{
	Name: "numeric",
	Schema: `
CREATE TABLE readings (
    sensor_id  int NOT NULL,
    taken_at   timestamptz NOT NULL,
    value      double precision NOT NULL,
    min_value  real NOT NULL,
    max_value  real NOT NULL,
    samples    smallint NOT NULL,
    status     smallint NOT NULL,
    PRIMARY KEY (sensor_id, taken_at)
);
CREATE TABLE ledger (
    id          bigint PRIMARY KEY,
    account_id  bigint NOT NULL,
    booked_at   timestamptz NOT NULL,
    value_date  date NOT NULL,
    amount      numeric(14,2) NOT NULL,
    balance     numeric(16,2) NOT NULL,
    fx_rate     numeric(12,6) NOT NULL,
    currency    text NOT NULL
);
CREATE INDEX ledger_account_booked ON ledger (account_id, booked_at);
CREATE TABLE host_metrics (
    id           bigint PRIMARY KEY,
    host_id      int NOT NULL,
    ts           timestamptz NOT NULL,
    cpu_user     real NOT NULL,
    cpu_system   real NOT NULL,
    load1        double precision NOT NULL,
    mem_used     bigint NOT NULL,
    disk_read    bigint NOT NULL,
    disk_write   bigint NOT NULL,
    net_rx       bigint NOT NULL,
    net_tx       bigint NOT NULL,
    connections  int NOT NULL
);
CREATE INDEX host_metrics_ts ON host_metrics (ts);
`,
	Tables: []string{"readings", "ledger", "host_metrics"},
	Fill:   numericFillSQL,
}

// Per unit of numeric data: about 0.5 MB of pg_dump output.
const (
	readingsPerUnit    = 3000
	ledgerPerUnit      = 1500
	hostMetricsPerUnit = 1500
	// sensors and hosts report in turn: row g is sensor g % sensors at
	// tick g / sensors, so (sensor_id, taken_at) is unique.
	sensors = 500
	hosts   = 200
)

// numericFillSQL is numericShape's Fill.
var numericFillSQL = []string{
	// A slow wave plus noise, at the four decimals a sensor reports.
	`INSERT INTO readings
SELECT s, ts, v, (v - random() * 0.5)::real, (v + random() * 0.5)::real,
       (1 + floor(random() * 60))::smallint,
       (CASE WHEN random() < 0.995 THEN 0 ELSE 1 + floor(random() * 3) END)::smallint
FROM (SELECT (g % ` + strconv.Itoa(sensors) + `)::int AS s,
             timestamptz '2023-01-01 00:00:00+00' + (g / ` + strconv.Itoa(sensors) + `) * interval '10 seconds' AS ts,
             round((20 + 8 * sin(g / 50000.0) + (g % ` + strconv.Itoa(sensors) + `) / 50.0 + random() * 2)::numeric, 4)::float8 AS v
      FROM generate_series($1::bigint * ` + strconv.Itoa(readingsPerUnit) + ` + 1, $2::bigint * ` + strconv.Itoa(readingsPerUnit) + `) AS g) AS r`,

	`INSERT INTO ledger
SELECT g,
       1 + (g * 7919) % 100000,
       timestamptz '2020-01-01 00:00:00+00' + g * interval '20 seconds' + random() * interval '20 seconds',
       date '2020-01-01' + (g / 4320)::int + (random() < 0.2)::int,
       amount,
       round((g % 100000) * 3.7 + amount * 10, 2),
       round((0.8 + random() * 0.4)::numeric, 6),
       (ARRAY['EUR','EUR','EUR','USD','GBP','CHF'])[1 + g % 6]
FROM (SELECT g, round(((random() - 0.3) * random() * 5000)::numeric, 2) AS amount
      FROM generate_series($1::bigint * ` + strconv.Itoa(ledgerPerUnit) + ` + 1, $2::bigint * ` + strconv.Itoa(ledgerPerUnit) + `) AS g) AS l`,

	// Counters grow with the tick, plus what the host did since.
	`INSERT INTO host_metrics
SELECT g, h, timestamptz '2024-01-01 00:00:00+00' + tick * interval '15 seconds',
       (random() * random() * 100)::real,
       (random() * 20)::real,
       round((random() * 8)::numeric, 2)::float8,
       (8e9 + random() * 24e9)::bigint,
       tick * 52428800 + floor(random() * 52428800)::bigint,
       tick * 26214400 + floor(random() * 26214400)::bigint,
       tick * 104857600 + floor(random() * 104857600)::bigint,
       tick * 78643200 + floor(random() * 78643200)::bigint,
       floor(random() * random() * 2000)::int
FROM (SELECT g, (g % ` + strconv.Itoa(hosts) + `)::int AS h, g / ` + strconv.Itoa(hosts) + ` AS tick
      FROM generate_series($1::bigint * ` + strconv.Itoa(hostMetricsPerUnit) + ` + 1, $2::bigint * ` + strconv.Itoa(hostMetricsPerUnit) + `) AS g) AS m`,
}
