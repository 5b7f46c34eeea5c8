package spec

// Label keys berth puts on containers, networks and volumes. They are the
// keys Docker Compose uses, so that tools reading Compose labels understand
// berth's objects.
const (
	// LabelProject names the project an object belongs to.
	LabelProject = "com.docker.compose.project"
	// LabelService names the service a container belongs to.
	LabelService = "com.docker.compose.service"
	// LabelContainerNumber is the replica number of a container, from 1.
	LabelContainerNumber = "com.docker.compose.container-number"
	// LabelOneOff is LabelTrue on containers made by `run`, else LabelFalse.
	LabelOneOff = "com.docker.compose.oneoff"
	// LabelHook names the lifecycle hook a container runs (HookPreStart),
	// Docker Compose's label.
	LabelHook = "com.docker.compose.hook"
	// HookPreStart is LabelHook's value on a pre_start container.
	HookPreStart = "pre_start"
	// LabelConfigHash holds ConfigHash of the service the container was made from.
	LabelConfigHash = "com.docker.compose.config-hash"
	// LabelWorkingDir is the absolute project directory.
	LabelWorkingDir = "com.docker.compose.project.working_dir"
	// LabelConfigFiles is the comma-separated list of the project's Compose files.
	LabelConfigFiles = "com.docker.compose.project.config_files"
	// LabelEnvironmentFile is the comma-separated list of the project's env files.
	LabelEnvironmentFile = "com.docker.compose.project.environment_file"
	// LabelNetwork is the key of a network in the Compose file.
	LabelNetwork = "com.docker.compose.network"
	// LabelVolume is the key of a volume in the Compose file.
	LabelVolume = "com.docker.compose.volume"
	// LabelVersion is the version of the program that made the object.
	LabelVersion = "com.docker.compose.version"
	// LabelDependsOn lists a container's dependencies as
	// "service:condition:restart" entries separated by commas.
	LabelDependsOn = "com.docker.compose.depends_on"
	// LabelImage identifies the image a container was made from (Docker
	// Compose stores the image ID).
	LabelImage = "com.docker.compose.image"
)

// Fixed label values, spelt as Docker Compose spells them. Compare label
// values against these, never against a literal.
const (
	// LabelTrue is the true value of a boolean label such as LabelOneOff.
	LabelTrue = "True"
	// LabelFalse is the false value of a boolean label such as LabelOneOff.
	LabelFalse = "False"
)
