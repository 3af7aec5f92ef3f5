// Command etcd is etcd's own main, built inside the Kubernetes wrapper module so that it uses
// the etcd version k8s.io/kubernetes requires (etcd's go.mod has replace directives, so a plain
// `go install go.etcd.io/etcd/server/v3@version` does not build).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
