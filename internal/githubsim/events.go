package githubsim

import "github.com/hookwarden/hookwarden/internal/delivery"

// KnownEvent reports whether GitHub accepts name in a hook's events: "*",
// or one of the webhook events GitHub publishes (the list of package
// delivery, which a test holds to GitHub's OpenAPI description).
func KnownEvent(name string) bool { return name == "*" || delivery.Known(name) }
