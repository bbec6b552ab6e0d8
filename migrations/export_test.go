package migrations

// ApplyBefore applies the pending migrations numbered below version.
var ApplyBefore = applyBefore
