// Command kubectl mirrors upstream's cmd/kubectl main (k8s.io/kubectl/pkg/cmd).
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"

	// Initialise client auth plugins, as upstream does.
	_ "k8s.io/client-go/plugin/pkg/client/auth"
)

func main() {
	// Upstream sets klog verbosity before building the command (plugins, .kuberc).
	logs.GlogSetter(cmd.GetLogVerbosity(os.Args)) // nolint:errcheck
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}
