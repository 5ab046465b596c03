package backup

import (
	"context"

	"github.com/go-logr/logr"
	"github.com/jackc/pgx/v5"

	"github.com/pgbackup/pgbackup/backup-agent/pgclient"
)

// pgCatalog reads the catalog over a pgx connection.
type pgCatalog struct{ conn *pgx.Conn }

func openPgCatalog(ctx context.Context, log logr.Logger, retries int) (Catalog, error) {
	conn, err := pgclient.Connect(ctx, log, pgclient.Options{Retries: retries})
	if err != nil {
		return nil, err
	}
	return pgCatalog{conn: conn}, nil
}

func (c pgCatalog) Server(ctx context.Context) (pgclient.ServerVersion, error) {
	return pgclient.Server(ctx, c.conn)
}

func (c pgCatalog) Databases(ctx context.Context) ([]pgclient.Database, error) {
	return pgclient.Databases(ctx, c.conn)
}

func (c pgCatalog) Close(ctx context.Context) error { return c.conn.Close(ctx) }

func (c pgCatalog) Superuser(ctx context.Context) (bool, error) {
	return pgclient.Superuser(ctx, c.conn)
}
