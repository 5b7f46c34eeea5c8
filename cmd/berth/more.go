package main

import "github.com/spf13/cobra"

// newContainerMoreCommands are the container verbs that move files and
// report usage: cp, export, commit, stats, attach.
func newContainerMoreCommands(g *globalOptions) []*cobra.Command {
	return []*cobra.Command{newContainerCpCommand(g), newContainerExportCommand(g), newContainerCommitCommand(g),
		newContainerStatsCommand(g)}
}

// newComposeMoreCommands are the compose verbs that work on one service's
// containers: cp, export, commit, stats, attach, volumes.
func newComposeMoreCommands(g *globalOptions) []*cobra.Command {
	return []*cobra.Command{newComposeCpCommand(g), newComposeExportCommand(g), newComposeCommitCommand(g),
		newComposeStatsCommand(g), newComposeVolumesCommand(g)}
}
