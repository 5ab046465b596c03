// Package v1alpha1 is the pgbackup.dev/v1alpha1 API: the PostgresBackup
// resource, which the controller turns into a CronJob that runs the backup
// agent (DESIGN section 4; the names are a contract).
//
// +kubebuilder:object:generate=true
// +groupName=pgbackup.dev
package v1alpha1
