package manifest

import (
	"strings"
	"testing"
	"time"
)

func goodVerification() *Verification {
	return &Verification{
		SchemaVersion: VerificationSchemaVersion, BackupID: "20261202T040000Z", Result: VerificationSucceeded,
		CheckedAt:      time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC),
		RestoreSeconds: map[string]float64{"orders": 1.5},
		Tables:         TableCheck{Checked: 3},
		Checks:         []CheckResult{{Name: "recent", Database: "orders", OK: true}},
	}
}

func TestVerificationRoundTrip(t *testing.T) {
	b, err := goodVerification().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	v, err := UnmarshalVerification(b)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Succeeded() || v.RestoreSeconds["orders"] != 1.5 {
		t.Errorf("round trip lost data: %+v", v)
	}
	var nilV *Verification
	if nilV.Succeeded() {
		t.Error("a missing record counts as verified")
	}
}

func TestVerificationValidateRefusesContradictions(t *testing.T) {
	tests := map[string]func(*Verification){
		"schema":          func(v *Verification) { v.SchemaVersion = 2 },
		"id":              func(v *Verification) { v.BackupID = "../x" },
		"result":          func(v *Verification) { v.Result = "ok" },
		"mismatch but ok": func(v *Verification) { v.Tables.Mismatched = 1 },
		"index but ok":    func(v *Verification) { v.Indexes.Failed = 1 },
		"failed check ok": func(v *Verification) { v.Checks[0].OK = false },
	}
	for name, breakIt := range tests {
		t.Run(name, func(t *testing.T) {
			v := goodVerification()
			breakIt(v)
			b, _ := v.Marshal()
			if _, err := UnmarshalVerification(b); err == nil || !strings.Contains(err.Error(), "invalid verification") {
				t.Errorf("accepted: %v", err)
			}
		})
	}
}
