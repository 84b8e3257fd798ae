package exposition

// projectInfoFamily names the projects that own listed images, as the cloud's credential may
// read them from Keystone or IAM.
var projectInfoFamily = newGauge("project", "info",
	"1 for each project that owns listed images and whose name the cloud's credential may read from Keystone/IAM (every project for an admin, its own for a project-scoped member or reader; none for auth_type token or aksk); read at most once an hour; absent where project metrics are off for the cloud.",
	"project_id", "project_name", "domain_id")
