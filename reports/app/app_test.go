package app

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestTrustedProxies: X-Forwarded-For names the client only when the
// connection comes from a listed proxy (none by default).
func TestTrustedProxies(t *testing.T) {
	for _, tt := range []struct {
		proxies, want string
	}{
		{"", "192.0.2.1"},
		{"192.0.2.0/24", "203.0.113.9"},
		{"10.0.0.0/8", "192.0.2.1"},
	} {
		r, err := newEngine(tt.proxies)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		r.GET("/", func(c *gin.Context) { got = c.ClientIP() })
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = "192.0.2.1:5000"
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		r.ServeHTTP(httptest.NewRecorder(), req)
		if got != tt.want {
			t.Errorf("trusted %q: client %s, want %s", tt.proxies, got, tt.want)
		}
	}
	if _, err := newEngine("not-a-cidr"); err == nil {
		t.Error("a malformed -trusted-proxies was accepted")
	}
}
