// Package gcpnames is the single list of the cloud resource names the code
// expects. Terraform creates the same names (a test in terraform/ compares
// them), and the local stack creates them on its emulators.
package gcpnames

const (
	// LocalProject is the project id used against the emulators.
	LocalProject = "adclick-local"

	// ClicksTopic receives one message per click from the redirect service.
	ClicksTopic = "clicks"
	// StreamingSubscription is read by the streaming pipeline.
	StreamingSubscription = "clicks-streaming"
	// ArchiveSubscription feeds the raw archive: a Cloud Storage
	// subscription in production, the local archiver on the emulator.
	ArchiveSubscription = "clicks-archive"
	// TailSubscription exists only locally: `make run` prints each click
	// that arrives on it.
	TailSubscription = "clicks-tail"
	// DeadLetterTopic receives events the pipelines cannot parse, with the
	// reason in attributes.
	DeadLetterTopic = "clicks-dead-letter"
	// DeadLetterSubscription holds dead letters for inspection and replay.
	DeadLetterSubscription = "clicks-dead-letter-hold"

	// BigtableInstance holds the serving tables.
	BigtableInstance = "adclick"
)
