package graph

import (
	"fmt"
	"slices"
	"strings"
)

// Cloud is a Microsoft cloud mfabot can manage a tenant in: where its Graph is, and where
// its tokens come from. A tenant lives in exactly one cloud; its token is valid only for
// that cloud's Graph and is never sent anywhere else.
type Cloud struct {
	Name string // the graph.cloud configuration value: "public", "usgov", "usgovdod", "china"
	// GraphURL is Graph's root without a version, as Config.BaseURL takes it.
	GraphURL string
	// AuthorityHost is the Entra ID token authority, as CredentialOptions.AuthorityHost
	// and azcore's cloud.Configuration take it (with the trailing slash).
	AuthorityHost string
}

// Scope is the OAuth scope of an app-only token for the cloud's Graph:
// "<GraphURL>/.default".
func (c Cloud) Scope() string { return c.GraphURL + "/.default" }

// The Microsoft clouds with their own Graph. Both US Government clouds (GCC High and DoD)
// sign in at login.microsoftonline.us; China is operated by 21Vianet.
var (
	CloudPublic   = Cloud{Name: "public", GraphURL: "https://graph.microsoft.com", AuthorityHost: "https://login.microsoftonline.com/"}
	CloudUSGov    = Cloud{Name: "usgov", GraphURL: "https://graph.microsoft.us", AuthorityHost: "https://login.microsoftonline.us/"}
	CloudUSGovDoD = Cloud{Name: "usgovdod", GraphURL: "https://dod-graph.microsoft.us", AuthorityHost: "https://login.microsoftonline.us/"}
	CloudChina    = Cloud{Name: "china", GraphURL: "https://microsoftgraph.chinacloudapi.cn", AuthorityHost: "https://login.chinacloudapi.cn/"}
)

// Clouds are the known clouds by name.
var Clouds = map[string]Cloud{
	CloudPublic.Name:   CloudPublic,
	CloudUSGov.Name:    CloudUSGov,
	CloudUSGovDoD.Name: CloudUSGovDoD,
	CloudChina.Name:    CloudChina,
}

// LookupCloud returns the cloud of the given name (any case, surrounding space ignored);
// "" is the public cloud. An unknown name is an error that lists the known ones.
func LookupCloud(name string) (Cloud, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" {
		return CloudPublic, nil
	}
	if c, ok := Clouds[name]; ok {
		return c, nil
	}
	names := make([]string, 0, len(Clouds))
	for n := range Clouds {
		names = append(names, n)
	}
	slices.Sort(names)
	return Cloud{}, fmt.Errorf("graph: unknown cloud %q (known: %s)", name, strings.Join(names, ", "))
}
