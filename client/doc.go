// Package client holds what every cloud API client shares: the bounded HTTP client, typed
// errors, redaction and truncation of a server's text, and the types of a listing (Image,
// ListOptions, Selection) with the interfaces between them (Authenticator, ImageSource).
// Cloud configuration and authentication are in client/cloud, the Nova images API in
// client/nova.
package client
