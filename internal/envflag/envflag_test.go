package envflag

import (
	"flag"
	"testing"
	"time"
)

func TestParsePrecedence(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    string
		wantDur time.Duration
		wantErr bool
	}{
		{name: "default", want: "def", wantDur: time.Second},
		{name: "env", env: map[string]string{"APP_LISTEN_ADDR": "env", "APP_WAIT": "2s"}, want: "env", wantDur: 2 * time.Second},
		{name: "flag beats env", args: []string{"-listen-addr=flag"}, env: map[string]string{"APP_LISTEN_ADDR": "env"}, want: "flag", wantDur: time.Second},
		{name: "bad env value", env: map[string]string{"APP_WAIT": "soon"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			addr := fs.String("listen-addr", "def", "address")
			wait := fs.Duration("wait", time.Second, "wait")
			err := Parse(fs, "APP", tt.args, func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if (err != nil) != tt.wantErr {
				t.Fatalf("Parse error = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if *addr != tt.want || *wait != tt.wantDur {
				t.Errorf("got addr=%q wait=%v, want %q %v", *addr, *wait, tt.want, tt.wantDur)
			}
		})
	}
}

func TestName(t *testing.T) {
	if got := Name("ADCLICK", "spool-dir"); got != "ADCLICK_SPOOL_DIR" {
		t.Errorf("Name = %q", got)
	}
}
