package accounts

// Role is what a staff member does in the agency. It decides what they may do.
type Role string

const (
	Admin        Role = "admin"
	Coordinator  Role = "coordinator"
	SocialWorker Role = "social_worker"
	Funder       Role = "funder"
)

// Roles lists every role, for validation and documentation.
var Roles = []Role{Admin, Coordinator, SocialWorker, Funder}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, k := range Roles {
		if r == k {
			return true
		}
	}
	return false
}

// Permission is one thing a role may do. Which rows a permission reaches
// (a social worker's own clients, say) is decided by the domain package that
// owns the rows; the policy here decides which routes a role may use at all.
type Permission string

const (
	ManageUsers   Permission = "users:manage"   // create, edit, deactivate staff
	ReadDevices   Permission = "devices:read"   // see the pool and what is available
	ManageDevices Permission = "devices:manage" // take in, edit, inspect devices; data plans; device history
	ReadLoans     Permission = "loans:read"     // loans (a social worker: their clients' only)
	ManageLoans   Permission = "loans:manage"   // issue, renew, return, lose, recover
	ReadClients   Permission = "clients:read"   // client records (scoped by role)
	WriteClients  Permission = "clients:write"  // record and edit clients (scoped by role)
	// ReferClients: a device request this role files, or a training place
	// it books, refers the client to the program: coordinators may then see
	// the client. No route needs it; it is recorded with the request or place.
	ReferClients Permission = "clients:refer"
	// CheckEligibility: ask whether a client the caller may see qualifies.
	CheckEligibility Permission = "eligibility:check"
	// ManageEligibility: read and replace the rule sets, load guideline tables.
	ManageEligibility Permission = "eligibility:manage"
	// FileRequests: ask for a device for one's own client.
	FileRequests Permission = "requests:file"
	// ReadRequests: see requests (a social worker: their clients' only).
	ReadRequests Permission = "requests:read"
	// CancelRequests: withdraw a request (a social worker: their clients' only).
	CancelRequests Permission = "requests:cancel"
	// DecideRequests: approve, deny, override, and see the waitlist.
	DecideRequests Permission = "requests:decide"
	// ReadTraining: see sessions and training records (a social worker:
	// their own clients' records).
	ReadTraining Permission = "training:read"
	// EnrollTraining: enroll clients and withdraw them (a social worker:
	// their own clients).
	EnrollTraining Permission = "training:enroll"
	// ManageTraining: schedule, edit and cancel sessions, see who is
	// enrolled, record attendance.
	ManageTraining Permission = "training:manage"
	// ReadNotifications: the outbox of reminders (a social worker: those
	// about their own clients or addressed to them) and the policy.
	ReadNotifications Permission = "notifications:read"
	// SendReminders: remind a client about a loan now; see every reminder.
	SendReminders Permission = "notifications:send"
	// ManageReminders: change the reminder policy.
	ManageReminders Permission = "notifications:manage"
	// ManageAgreements: save new versions of the loan agreement's terms.
	// Reading them comes with ManageLoans, which prints agreements.
	ManageAgreements Permission = "agreements:manage"
	// ReadReports: the utilization report (a funder's only for the funding
	// sources linked to them).
	ReadReports Permission = "reports:read"
	// ExportRecords: the record export of every device, plan and loan,
	// with clients' case numbers, that auditors ask for.
	ExportRecords Permission = "reports:export"
	// ReadFunding: see funding sources (a funder: only those they are
	// linked to), to choose one for a device or a data plan.
	ReadFunding Permission = "funding:read"
	// ManageFunding: add and edit funding sources.
	ManageFunding Permission = "funding:manage"
)

var policy = map[Role]map[Permission]bool{
	Admin: set(ManageUsers, ReadDevices, ManageDevices, ReadLoans, ManageLoans, ReadClients, WriteClients, ReferClients,
		CheckEligibility, ManageEligibility, FileRequests, ReadRequests, CancelRequests, DecideRequests,
		ReadTraining, EnrollTraining, ManageTraining, ReadNotifications, SendReminders, ManageReminders, ManageAgreements,
		ReadFunding, ManageFunding, ReadReports, ExportRecords),
	Coordinator: set(ReadDevices, ManageDevices, ReadLoans, ManageLoans, ReadClients, CheckEligibility,
		ReadRequests, CancelRequests, DecideRequests, ReadTraining, EnrollTraining, ManageTraining,
		ReadNotifications, SendReminders, ReadFunding, ReadReports, ExportRecords),
	SocialWorker: set(ReadDevices, ReadLoans, ReadClients, WriteClients, ReferClients, CheckEligibility,
		FileRequests, ReadRequests, CancelRequests, ReadTraining, EnrollTraining, ReadNotifications),
	// Funders see aggregates only: the reports of the funding sources an
	// admin linked them to, and those sources' own records.
	Funder: set(ReadFunding, ReadReports),
}

func set(ps ...Permission) map[Permission]bool {
	m := make(map[Permission]bool, len(ps))
	for _, p := range ps {
		m[p] = true
	}
	return m
}

// Can reports whether role r holds permission p.
func (r Role) Can(p Permission) bool { return policy[r][p] }

// Actor is the authenticated staff member making a request.
type Actor struct {
	ID   int64
	Name string
	Role Role
	// TokenID is the token the request came with; 0 when there is none.
	TokenID int64
	// SessionID is the browser session the request came with (the row's
	// id, not the secret); 0 when there is none.
	SessionID int64
}

// Can reports whether the actor holds permission p.
func (a *Actor) Can(p Permission) bool { return a != nil && a.Role.Can(p) }

// IDPtr returns the actor's ID for audit records; nil for the system
// (the CLI, start-up), which has no user row.
func (a *Actor) IDPtr() *int64 {
	if a == nil || a.ID == 0 {
		return nil
	}
	id := a.ID
	return &id
}
