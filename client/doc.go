// Package client holds what every cloud API client shares: the bounded HTTP client, typed
// errors, redaction and truncation of a server's text, the registry of image APIs, and the
// types of a listing (Image, ListOptions, Selection) with the interfaces between them
// (Authenticator, ImageSource, ImageAPI, QuotaSource). Cloud configuration and
// authentication are in client/cloud; what the three image API clients share, in
// client/paging; the clients themselves in client/nova (Nova's images/detail),
// client/glance (Glance v2) and client/ims (Huawei IMS).
package client
