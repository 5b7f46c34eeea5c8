// Package spec loads Compose files the way `docker compose` does and turns
// them into berth's own model, the desired state the reconciler converges
// the machine onto.
//
// Load runs compose-go v2: file discovery from the working directory upward,
// several -f files merged in order, --project-directory, the project name,
// .env and --env-file, interpolation, profiles, include and extends, and the
// COMPOSE_FILE, COMPOSE_PROJECT_NAME, COMPOSE_PROFILES and COMPOSE_ENV_FILES
// variables, all read from LoadOptions.Environ rather than the process
// environment. It then converts compose-go's types into Project, Service,
// Network and Volume, so that no compose-go type reaches the reconciler and
// an upgrade of compose-go cannot silently change what berth runs.
//
// A malformed file is reported as one line naming the file and, when it can
// be found, the field (a FieldError wrapping errdefs.ErrInvalidArgument).
// Fields that berth does not run yet are not errors at load time, so that
// `berth config` can still print the project; Project.CheckSupported lists
// them all, and the commands that create containers refuse to go on.
//
// The labels berth puts on what it creates are constants in labels.go,
// compatible with Docker Compose, and ConfigHash gives the per-service hash
// that decides whether a container must be recreated.
//
// Nothing in this package touches the machine other than reading files.
package spec
