package githubsim

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

const (
	defaultPerPage = 30
	maxPerPage     = 100
)

// pageParams reads per_page (1..100, default 30) and page (default 1).
func pageParams(r *http.Request) (perPage, page int) {
	q := r.URL.Query()
	perPage = defaultPerPage
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		perPage = min(v, maxPerPage)
	}
	page = 1
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		page = v
	}
	return perPage, page
}

// paginate cuts one page out of all and builds GitHub's Link header (prev,
// next, last, first; only the relations that apply).
func paginate[T any](base string, r *http.Request, all []T, perPage, page int) ([]T, string) {
	lastPage := max(1, (len(all)+perPage-1)/perPage)
	start := min((page-1)*perPage, len(all))
	end := min(start+perPage, len(all))
	items := all[start:end]

	var links []string
	pageURL := func(n int) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(n))
		return base + r.URL.Path + "?" + q.Encode()
	}
	if page > 1 {
		links = append(links, linkRel(pageURL(min(page-1, lastPage)), "prev"))
	}
	if page < lastPage {
		links = append(links, linkRel(pageURL(page+1), "next"), linkRel(pageURL(lastPage), "last"))
	}
	if page > 1 {
		links = append(links, linkRel(pageURL(1), "first"))
	}
	return items, strings.Join(links, ", ")
}

func linkRel(u, rel string) string { return "<" + u + `>; rel="` + rel + `"` }

// cursorURL is the Link target of the next page of a cursor-paginated list.
func cursorURL(base string, r *http.Request, cursor string) string {
	q := r.URL.Query()
	q.Set("cursor", cursor)
	u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	return base + u.String()
}
