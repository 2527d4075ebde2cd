package clickevent

import "strings"

// botMarkers are substrings of the user agents of crawlers, preview
// fetchers and HTTP libraries. Clicks from them are recorded but the
// pipelines never count them.
var botMarkers = []string{
	"bot", "crawl", "spider", "slurp", "preview", "facebookexternalhit",
	"headless", "curl/", "wget/", "python-requests", "go-http-client", "java/", "okhttp", "httpclient",
}

// ClassifyUserAgent maps a User-Agent header to one of the UA* classes.
func ClassifyUserAgent(ua string) string {
	if ua == "" {
		return UABot
	}
	l := strings.ToLower(ua)
	for _, m := range botMarkers {
		if strings.Contains(l, m) {
			return UABot
		}
	}
	switch {
	case strings.Contains(l, "mobi"), strings.Contains(l, "android"), strings.Contains(l, "iphone"), strings.Contains(l, "ipad"):
		return UAMobile
	case strings.HasPrefix(l, "mozilla/"), strings.HasPrefix(l, "opera/"):
		return UABrowser
	}
	return UAOther
}
