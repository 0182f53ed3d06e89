package github

import (
	"context"

	gogithub "github.com/google/go-github/v60/github"
)

// RepositoryIssueAccess is what managing a repository's issues needs.
var RepositoryIssueAccess = Access{ClassicScope: "repo", Permission: "Issues: write"}

// IssueService manages the issues of one repository. Errors are
// go-github's (or the transport's), to be read with Classify.
type IssueService struct {
	gh *gogithub.Client
	repository
}

// RepositoryIssues returns the issues of the repository "owner/name".
func (c *Client) RepositoryIssues(fullName string) (*IssueService, error) {
	r, err := parseRepository(fullName)
	if err != nil {
		return nil, err
	}
	return &IssueService{gh: c.gh, repository: r}, nil
}

// Repository is "owner/name".
func (s *IssueService) Repository() string { return s.fullName() }

// Find returns the first issue, open or closed, for which match is true, or
// nil. It reads every page of the repository's issues, oldest first
// (pull requests, which GitHub lists among issues, are skipped).
func (s *IssueService) Find(ctx context.Context, match func(*gogithub.Issue) bool) (*gogithub.Issue, error) {
	opts := &gogithub.IssueListByRepoOptions{State: "all", Sort: "created", Direction: "asc",
		ListOptions: gogithub.ListOptions{PerPage: listPageSize}}
	for {
		page, resp, err := s.gh.Issues.ListByRepo(ctx, s.owner, s.repo, opts)
		if err != nil {
			return nil, err
		}
		for _, is := range page {
			if !is.IsPullRequest() && match(is) {
				return is, nil
			}
		}
		if resp.NextPage == 0 {
			return nil, nil
		}
		opts.Page = resp.NextPage
	}
}

// Get returns one issue; a conditional request when it was read before, so
// an unchanged issue costs no rate limit.
func (s *IssueService) Get(ctx context.Context, number int) (*gogithub.Issue, error) {
	return result(s.gh.Issues.Get(ctx, s.owner, s.repo, number))
}

// Create opens an issue.
func (s *IssueService) Create(ctx context.Context, req *gogithub.IssueRequest) (*gogithub.Issue, error) {
	return result(s.gh.Issues.Create(ctx, s.owner, s.repo, req))
}

// Edit changes an issue; fields left nil in req stay as they are.
func (s *IssueService) Edit(ctx context.Context, number int, req *gogithub.IssueRequest) (*gogithub.Issue, error) {
	return result(s.gh.Issues.Edit(ctx, s.owner, s.repo, number, req))
}
