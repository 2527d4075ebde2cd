package obs

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// ProfileCPU profiles this process into file until stop is called: the
// -cpuprofile of the batch launcher and of the proof.
func ProfileCPU(file string) (stop func(), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
