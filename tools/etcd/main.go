// Command etcd is upstream's server/main.go: etcd built from the Go module proxy
// at the version k8s.io/kubernetes pins (see tools/README.md).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
