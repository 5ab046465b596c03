package faults

// Module is the import path prefix of pgbackup's packages.
const Module = "github.com/pgbackup/pgbackup"

// Package is the import path of this package, as `go test -json` names it.
const Package = Module + "/test/faults"

// Row is one fault of the matrix and the test that proves its outcome.
type Row struct {
	// Fault is what is injected.
	Fault string
	// Expected is the outcome the contract promises.
	Expected string
	// Package is the import path of the test's package.
	Package string
	// Test is the test's name as `go test` reports it (a subtest's spaces
	// become underscores); empty when no test proves the row yet.
	Test string
	// Note says where the row runs when that is not `make test-faults`,
	// or why it has no test yet.
	Note string
}

// Rows is the fault matrix, in the order of the published table.
var Rows = []Row{
	{
		Fault:    "S3 503 SlowDown ×2 then OK, on UploadPart, CompleteMultipartUpload and the manifest PutObject",
		Expected: "run succeeds; exactly one backup, whole (manifest sizes and sha256 match the objects)",
		Package:  Package, Test: "TestS3SlowDownThenRecovers",
	},
	{
		Fault:    "S3 503 SlowDown forever on UploadPart",
		Expected: "exit 5 (StorageFailed) within the retry budget; nothing committed",
		Package:  Package, Test: "TestS3SlowDownForever",
	},
	{
		Fault:    "lost answer to the manifest PutObject (the server stored it)",
		Expected: "run succeeds; the backup is whole (never a manifest without data)",
		Package:  Package, Test: "TestLostManifestPutAnswer",
	},
	{
		Fault:    "lost answer to CompleteMultipartUpload (the server completed it)",
		Expected: "run succeeds, or fails cleanly; never a dangling manifest",
		Package:  Package, Test: "TestLostCompleteMultipartUploadAnswer",
	},
	{
		Fault:    "S3 black hole during an upload part (request read, never answered)",
		Expected: "exit 5 within the --s3-request-timeout bound; upload aborted, no manifest",
		Package:  Package, Test: "TestS3BlackHoleDuringUploadPart",
	},
	{
		Fault:    "S3 endpoint that accepts connections and never answers",
		Expected: "exit 5 within the --s3-request-timeout bound; nothing committed",
		Package:  Module + "/backup-agent/backup", Test: "TestRunsAreBounded/S3_endpoint_that_never_answers",
	},
	{
		Fault:    "PostgreSQL connection closed mid-COPY (Toxiproxy limit_data on the PostgreSQL link)",
		Expected: "exit 4 (DumpFailed); nothing committed",
		Package:  Package, Test: "TestPostgresConnectionLostMidCopy",
	},
	{
		Fault:    "PostgreSQL black hole at connect (Toxiproxy timeout)",
		Expected: "exit 3 (ConnectionFailed) within PGCONNECT_TIMEOUT × tries",
		Package:  Package, Test: "TestPostgresBlackHoleAtConnect",
	},
	{
		Fault:    "held ACCESS EXCLUSIVE lock",
		Expected: "exit 4 (DumpFailed) after the --lock-wait-timeout bound; nothing committed",
		Package:  Module + "/backup-agent/backup", Test: "TestRunsAreBounded/held_ACCESS_EXCLUSIVE_lock",
	},
	{
		Fault:    "S3 bandwidth 1 MB/s (Toxiproxy bandwidth on the S3 link)",
		Expected: "run succeeds; one whole backup; the agent's peak RSS stays within the benchmark's bound (96 MiB)",
		Package:  Package, Test: "TestS3Bandwidth1MBps",
	},
	{
		Fault:    "GetObject body cut after half the object during restore, once (the stored object is intact)",
		Expected: "the download resumes where it stopped (ranged GET, If-Match on the ETag) and the restore completes with every row",
		Package:  Package, Test: "TestRestoreGetObjectCut",
	},
	{
		Fault:    "every GetObject of the object cut after 64 KiB during restore, the resumes too",
		Expected: "exit 5 (StorageFailed: a retry can succeed, the backup is not corrupt) after 5 resumes in a row; the target it created is dropped",
		Package:  Package, Test: "TestRestoreGetObjectCutEveryTime",
	},
	{
		Fault:    "GetObject body stalls midway (headers and 2 MiB sent, then nothing; connection open)",
		Expected: "after the request timeout without a byte the download resumes where it stopped and completes",
		Package:  Module + "/backup-agent/storage", Test: "TestS3GetResumes/stalls_midway",
	},
	{
		Fault:    "object replaced in the bucket between a cut and the resume",
		Expected: "IntegrityFailed: the resume asks If-Match on the first answer's ETag, so two objects' bytes are never joined",
		Package:  Module + "/backup-agent/storage", Test: "TestS3GetResumes/object_replaced_before_the_resume",
	},
	{
		Fault:    "object truncated in the bucket (half its bytes), restored into a new database",
		Expected: "exit 6 (IntegrityFailed); the target it created is dropped",
		Package:  Package, Test: "TestRestoreObjectTruncatedInBucket",
	},
	{
		Fault:    "object corrupted in the bucket (custom, zstd), restored into a new database",
		Expected: "exit 6 (IntegrityFailed); target dropped",
		Package:  Module + "/backup-agent/restore", Test: "TestRestoreSafety/corrupt_object/custom_zstd_into_a_new_database",
	},
	{
		Fault:    "object corrupted in the bucket (plain), restored into an existing empty database",
		Expected: "exit 6 (IntegrityFailed); target untouched",
		Package:  Module + "/backup-agent/restore", Test: "TestRestoreSafety/corrupt_object/plain_uncompressed_into_an_existing_empty_database",
	},
	{
		Fault:    "connection reset mid-part (UploadPart reset after 1 MiB, twice)",
		Expected: "retried; the run succeeds with one whole backup (or fails cleanly), never a corrupt object",
		Package:  Package, Test: "TestS3ConnectionResetMidPart",
	},
	{
		Fault:    "agent pod deleted mid-upload (kind)",
		Expected: "status Failed (Interrupted), no manifest, no object, no open upload: the agent aborts its upload within the pod's grace period (a force-deleted pod's upload is swept after 24 h)",
		Package:  Module + "/test/e2e", Test: "TestBackups/pod-deleted",
		Note: "make test-e2e",
	},
	{
		Fault:    "controller down while a run finishes (kind)",
		Expected: "after restart the status shows the run's true result",
		Package:  Module + "/test/e2e", Test: "TestControllerDownAndRecreate",
		Note: "make test-e2e",
	},
	{
		Fault:    "PostgresBackup deleted and recreated (kind)",
		Expected: "backups kept and listed; the recreated resource's runs add to them (its status comes from its runs: the controller never reads S3)",
		Package:  Module + "/test/e2e", Test: "TestControllerDownAndRecreate",
		Note: "make test-e2e",
	},
	{
		Fault:    "spool volume full (directory format, an 80 MB dump into a 64 MiB tmpfs)",
		Expected: "exit 5 before dumping, or clean failure (exit 4) saying the spool is full; nothing committed; the spool is left empty",
		Package:  Package, Test: "TestSpoolVolumeFull",
	},
	{
		Fault:    "spool volume fills during the dump (directory format, a 100 MB dump of a database of a few MB, 64 MiB tmpfs)",
		Expected: "clean failure saying the spool is full; nothing committed; the spool is left empty",
		Package:  Package, Test: "TestSpoolVolumeFullMidDump",
	},
}
