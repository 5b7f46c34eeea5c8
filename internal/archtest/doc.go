// Package archtest checks the shape of the code base in its tests: imports
// flow one way (cmd → reconciler → engine → {netmgr, volmgr}; spec read by cmd
// and reconciler), only tests import the test doubles (reconciler/reconcilertest),
// and every package has a doc comment.
package archtest
