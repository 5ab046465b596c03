package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// recordVersion is the version of record's layout. Fields are only ever
// added; a change of meaning needs a new version, and a baseline of
// another version is refused rather than compared wrongly.
const recordVersion = 1

// record is the report as JSON (BENCH_JSON), and what BENCH_BASELINE
// reads back to compare with. Durations are seconds; sizes bytes, unless
// a name says MiB.
type record struct {
	SchemaVersion int `json:"schemaVersion"`
	// Finished is when the run ended, RFC 3339.
	Finished string `json:"finished"`
	// Commit and Describe name the benchmarked source tree, when git can.
	Commit          string           `json:"commit,omitempty"`
	Describe        string           `json:"describe,omitempty"`
	Machine         string           `json:"machine"`
	LoadBefore      string           `json:"loadBefore"`
	LoadAfter       string           `json:"loadAfter"`
	Shape           string           `json:"shape"`
	TargetMiB       int              `json:"targetMiB"`
	Runs            int              `json:"runs"`
	RestoreJobs     int              `json:"restoreJobs"`
	DatabaseBytes   int64            `json:"databaseBytes"`
	TableBytes      int64            `json:"tableBytes"`
	IndexBytes      int64            `json:"indexBytes"`
	TableRows       map[string]int64 `json:"tableRows"`
	GenerateSeconds float64          `json:"generateSeconds"`
	VacuumSeconds   float64          `json:"vacuumSeconds"`
	RawBytes        int64            `json:"rawBytes"`
	AgentRawBytes   int64            `json:"agentRawBytes"`
	WarmUpSeconds   float64          `json:"warmUpSeconds"`
	Scratch         string           `json:"scratch"`
	Commands        []string         `json:"commands"`
	Profile         string           `json:"profile,omitempty"`
	// Contenders are the table's rows, in its order.
	Contenders []row `json:"contenders"`
	// ClassicDump and ClassicUpload are (b)'s two steps, median runs.
	ClassicDump   measurementRecord    `json:"classicDump"`
	ClassicUpload measurementRecord    `json:"classicUpload"`
	Verification  *result.Verification `json:"verification,omitempty"`
	Verdicts      []verdict            `json:"verdicts"`
}

// row is one contender's figures: its median run's, and its highest peak
// RSS. A figure that does not apply is 0: OverFloor for restores, the
// stored size for what stores nothing, own CPU for rows other than
// pgbackup's.
type row struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Agent   bool   `json:"agent"`
	Restore bool   `json:"restore"`
	// WallSeconds and the CPU figures are the median run's.
	WallSeconds         float64 `json:"wallSeconds"`
	OverFloor           float64 `json:"overFloor"`
	RawMBps             float64 `json:"rawMBps"`
	StoredBytes         int64   `json:"storedBytes"`
	StoredOverRaw       float64 `json:"storedOverRaw"`
	CPUSeconds          float64 `json:"cpuSeconds"`
	CPUSecondsPerGiB    float64 `json:"cpuSecondsPerGiB"`
	OwnCPUSeconds       float64 `json:"ownCPUSeconds"`
	OwnCPUSecondsPerGiB float64 `json:"ownCPUSecondsPerGiB"`
	PGCPUSeconds        float64 `json:"pgCPUSeconds"`
	S3CPUSeconds        float64 `json:"s3CPUSeconds"`
	OtherCPUSeconds     float64 `json:"otherCPUSeconds"`
	// PeakRSSMiB is the highest of the runs: pgbackup's own for its rows,
	// else the process tree's largest process.
	PeakRSSMiB float64 `json:"peakRSSMiB"`
	// Measurements are every run, in order.
	Measurements []measurementRecord `json:"measurements"`
}

// measurementRecord is a measurement in JSON.
type measurementRecord struct {
	Exit            int     `json:"exit"`
	WallSeconds     float64 `json:"wallSeconds"`
	UserSeconds     float64 `json:"userSeconds"`
	SysSeconds      float64 `json:"sysSeconds"`
	OwnCPUSeconds   float64 `json:"ownCPUSeconds"`
	TreeRSSBytes    int64   `json:"treeRSSBytes"`
	OwnRSSBytes     int64   `json:"ownRSSBytes"`
	PGCPUSeconds    float64 `json:"pgCPUSeconds"`
	S3CPUSeconds    float64 `json:"s3CPUSeconds"`
	OtherCPUSeconds float64 `json:"otherCPUSeconds"`
}

func (m measurement) record() measurementRecord {
	return measurementRecord{
		Exit: m.Exit, WallSeconds: m.Wall.Seconds(), UserSeconds: m.User.Seconds(), SysSeconds: m.Sys.Seconds(),
		OwnCPUSeconds: m.OwnCPU.Seconds(), TreeRSSBytes: m.TreeRSS, OwnRSSBytes: m.OwnRSS,
		PGCPUSeconds: m.ServerCPU.Seconds(), S3CPUSeconds: m.S3CPU.Seconds(), OtherCPUSeconds: m.OtherCPU.Seconds(),
	}
}

// record is the report in its JSON form; the table is printed from it
// too, so both always show the same figures.
func (r report) record() record {
	rec := record{
		SchemaVersion: recordVersion, Commit: r.Commit, Describe: r.Describe,
		Machine: r.Machine, LoadBefore: r.LoadBefore, LoadAfter: r.LoadAfter,
		Shape: r.Shape, TargetMiB: r.TargetMiB, Runs: r.Runs, RestoreJobs: r.RestoreJobs,
		DatabaseBytes: r.DatabaseBytes, TableBytes: r.TableBytes, IndexBytes: r.IndexBytes, TableRows: r.Rows,
		GenerateSeconds: r.Generate.Seconds(), VacuumSeconds: r.Vacuum.Seconds(),
		RawBytes: r.RawBytes, AgentRawBytes: r.AgentRawBytes, WarmUpSeconds: r.WarmUp.Wall.Seconds(),
		Scratch: r.Scratch, Commands: r.Commands, Profile: r.Profile,
		ClassicDump: median(r.ClassicDump).record(), ClassicUpload: median(r.ClassicUpload).record(),
		Verification: r.VerifyResult, Verdicts: r.verdicts(),
	}
	if !r.Finished.IsZero() {
		rec.Finished = r.Finished.UTC().Format(time.RFC3339)
	}
	for _, c := range r.contenders() {
		rec.Contenders = append(rec.Contenders, r.row(c))
	}
	return rec
}

// row computes c's figures; the per-GiB ones are per GiB of raw dump
// (RawBytes), the same amount of data for every row.
func (r report) row(c contender) row {
	m := median(c.Runs)
	rawGiB := float64(r.RawBytes) / gib
	x := row{
		ID: c.ID, Name: c.Name, Agent: c.Agent, Restore: c.Restore,
		WallSeconds: m.Wall.Seconds(), StoredBytes: c.Stored, CPUSeconds: m.CPU().Seconds(),
		PGCPUSeconds: m.ServerCPU.Seconds(), S3CPUSeconds: m.S3CPU.Seconds(), OtherCPUSeconds: m.OtherCPU.Seconds(),
		PeakRSSMiB: float64(peak(c.Runs, c.Agent)) / mib,
	}
	x.RawMBps = ratio(float64(r.RawBytes)/mb, x.WallSeconds)
	x.StoredOverRaw = ratio(float64(c.Stored), float64(r.RawBytes))
	x.CPUSecondsPerGiB = ratio(x.CPUSeconds, rawGiB)
	if c.Agent {
		x.OwnCPUSeconds = m.OwnCPU.Seconds()
		x.OwnCPUSecondsPerGiB = ratio(x.OwnCPUSeconds, rawGiB)
	}
	if !c.Restore {
		x.OverFloor = ratio(x.WallSeconds, r.Floor.Wall().Seconds())
	}
	for _, run := range c.Runs {
		x.Measurements = append(x.Measurements, run.record())
	}
	return x
}

// writeRecord writes rec to path as indented JSON.
func writeRecord(path string, rec record) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	// The commands' > and && stay readable.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rec); err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// readRecord reads a report writeRecord wrote.
func readRecord(path string) (record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return record{}, fmt.Errorf("read baseline: %w", err)
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return record{}, fmt.Errorf("baseline %s: %w", path, err)
	}
	if rec.SchemaVersion != recordVersion {
		return record{}, fmt.Errorf("baseline %s has schemaVersion %d, this benchmark reads %d", path, rec.SchemaVersion, recordVersion)
	}
	return rec, nil
}
