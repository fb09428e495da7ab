package signtest

import (
	"net/http"
	"net/url"
)

// RedirectClient returns an HTTP client that sends every request to the
// test server at serverURL, whatever host the request names: the test
// certificates point at public OCSP, CRL and CA URLs. intercept, when not
// nil, sees each request first and may answer it itself (a non-nil
// response), to count requests or to play a responder that is down.
func RedirectClient(serverURL string, intercept func(*http.Request) *http.Response) *http.Client {
	target, err := url.Parse(serverURL)
	if err != nil {
		panic("signtest: RedirectClient: " + err.Error())
	}
	return &http.Client{Transport: transportFunc(func(r *http.Request) (*http.Response, error) {
		if intercept != nil {
			if resp := intercept(r); resp != nil {
				return resp, nil
			}
		}
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host, r.Host = target.Scheme, target.Host, ""
		return http.DefaultTransport.RoundTrip(r)
	})}
}

// Unavailable is the answer of a responder that is down (503), for
// RedirectClient's intercept.
func Unavailable(r *http.Request) *http.Response {
	return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable", Body: http.NoBody, Request: r}
}

type transportFunc func(*http.Request) (*http.Response, error)

func (f transportFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
