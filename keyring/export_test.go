package keyring

// For the external tests: the probe a pass starts with, and its two
// conditions.
var (
	DueProbe       = due
	UnderOlder     = underOlder
	UnrecordedRows = unrecorded
)
