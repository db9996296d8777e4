package graph

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// CredentialOptions choose and configure the credential mfabot signs in to Entra ID with.
// The first kind whose fields are set wins: client secret, certificate, workload identity
// (federated token file), managed identity; with none of them, azidentity's default chain
// reads the AZURE_* environment itself.
type CredentialOptions struct {
	TenantID, ClientID string

	ClientSecret string

	CertificatePath     string // PEM or PKCS#12 file holding the certificate and its private key
	CertificatePassword string

	FederatedTokenFile string // workload identity (Kubernetes, GitHub Actions, …)

	// ManagedIdentity selects the managed identity of the host; ClientID, when set, picks a
	// user-assigned one.
	ManagedIdentity bool

	// Cloud is the Microsoft cloud of the tenant (default the public cloud): its
	// AuthorityHost issues the token.
	Cloud Cloud
	// AuthorityHost is the Entra ID authority (AZURE_AUTHORITY_HOST) for private clouds and
	// local fakes; set, it wins over Cloud.AuthorityHost. An authority that is not a known
	// Microsoft cloud turns off instance discovery, which would otherwise ask the public
	// cloud about it.
	AuthorityHost string

	// HTTPClient sends the token requests; nil means azcore's default.
	HTTPClient *http.Client
}

// CredentialOptionsFromEnv reads azidentity's environment conventions through getenv
// (os.Getenv in production): AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
// AZURE_CLIENT_CERTIFICATE_PATH, AZURE_CLIENT_CERTIFICATE_PASSWORD,
// AZURE_FEDERATED_TOKEN_FILE and AZURE_AUTHORITY_HOST.
func CredentialOptionsFromEnv(getenv func(string) string) CredentialOptions {
	if getenv == nil {
		getenv = os.Getenv
	}
	return CredentialOptions{
		TenantID:            getenv("AZURE_TENANT_ID"),
		ClientID:            getenv("AZURE_CLIENT_ID"),
		ClientSecret:        getenv("AZURE_CLIENT_SECRET"),
		CertificatePath:     getenv("AZURE_CLIENT_CERTIFICATE_PATH"),
		CertificatePassword: getenv("AZURE_CLIENT_CERTIFICATE_PASSWORD"),
		FederatedTokenFile:  getenv("AZURE_FEDERATED_TOKEN_FILE"),
		AuthorityHost:       getenv("AZURE_AUTHORITY_HOST"),
	}
}

// knownAuthorities are the Microsoft clouds' Entra ID hosts; MSAL knows their metadata.
var knownAuthorities = map[string]string{
	"login.microsoftonline.com":        "https://graph.microsoft.com",
	"login.microsoft.com":              "https://graph.microsoft.com",
	"login.windows.net":                "https://graph.microsoft.com",
	"login.microsoftonline.us":         "https://graph.microsoft.us",
	"login.chinacloudapi.cn":           "https://microsoftgraph.chinacloudapi.cn",
	"login.partner.microsoftonline.cn": "https://microsoftgraph.chinacloudapi.cn",
}

// DefaultBaseURL is the Graph endpoint that belongs to an Entra ID authority host: the
// national cloud's Graph for a national cloud's authority, the public one otherwise.
// (US Government DoD tenants use https://dod-graph.microsoft.us and must say so: name
// the cloud instead, see LookupCloud.)
func DefaultBaseURL(authorityHost string) string {
	if g, ok := knownAuthorities[authorityHostname(authorityHost)]; ok {
		return g
	}
	return defaultBaseURL
}

func authorityHostname(h string) string {
	if h == "" {
		return "login.microsoftonline.com"
	}
	if !strings.Contains(h, "://") {
		h = "https://" + h
	}
	u, err := url.Parse(h)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// NewCredential builds the azidentity credential o describes.
func NewCredential(o CredentialOptions) (azcore.TokenCredential, error) {
	co := azcore.ClientOptions{}
	if o.HTTPClient != nil {
		co.Transport = o.HTTPClient
	}
	disableDiscovery := false
	if o.AuthorityHost == "" {
		o.AuthorityHost = o.Cloud.AuthorityHost
	}
	if o.AuthorityHost != "" {
		host := o.AuthorityHost
		if !strings.Contains(host, "://") {
			host = "https://" + host
		}
		if !strings.HasSuffix(host, "/") {
			host += "/"
		}
		co.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: host, Services: map[cloud.ServiceName]cloud.ServiceConfiguration{}}
		_, known := knownAuthorities[authorityHostname(host)]
		disableDiscovery = !known
	}
	needApp := func(kind string) error {
		if o.TenantID == "" || o.ClientID == "" {
			return fmt.Errorf("graph credential: %s needs the tenant id and client id (AZURE_TENANT_ID, AZURE_CLIENT_ID)", kind)
		}
		return nil
	}
	switch {
	case o.ClientSecret != "":
		if err := needApp("a client secret"); err != nil {
			return nil, err
		}
		c, err := azidentity.NewClientSecretCredential(o.TenantID, o.ClientID, o.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: disableDiscovery})
		if err != nil {
			return nil, fmt.Errorf("graph credential: client secret: %w", err)
		}
		return c, nil
	case o.CertificatePath != "":
		if err := needApp("a certificate"); err != nil {
			return nil, err
		}
		data, err := os.ReadFile(o.CertificatePath)
		if err != nil {
			return nil, fmt.Errorf("graph credential: read certificate: %w", err)
		}
		var pw []byte
		if o.CertificatePassword != "" {
			pw = []byte(o.CertificatePassword)
		}
		certs, key, err := azidentity.ParseCertificates(data, pw)
		if err != nil {
			return nil, fmt.Errorf("graph credential: parse certificate %s: %w", o.CertificatePath, err)
		}
		c, err := azidentity.NewClientCertificateCredential(o.TenantID, o.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: disableDiscovery})
		if err != nil {
			return nil, fmt.Errorf("graph credential: certificate: %w", err)
		}
		return c, nil
	case o.FederatedTokenFile != "":
		if err := needApp("workload identity"); err != nil {
			return nil, err
		}
		c, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: co, ClientID: o.ClientID, TenantID: o.TenantID,
			TokenFilePath: o.FederatedTokenFile, DisableInstanceDiscovery: disableDiscovery,
		})
		if err != nil {
			return nil, fmt.Errorf("graph credential: workload identity: %w", err)
		}
		return c, nil
	case o.ManagedIdentity:
		mo := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: co}
		if o.ClientID != "" {
			mo.ID = azidentity.ClientID(o.ClientID)
		}
		c, err := azidentity.NewManagedIdentityCredential(mo)
		if err != nil {
			return nil, fmt.Errorf("graph credential: managed identity: %w", err)
		}
		return c, nil
	default:
		c, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
			ClientOptions: co, TenantID: o.TenantID, DisableInstanceDiscovery: disableDiscovery,
		})
		if err != nil {
			return nil, fmt.Errorf("graph credential: default chain: %w", err)
		}
		return c, nil
	}
}

var errNoCredential = errors.New("graph: Config.Credential is required (see NewCredential)")

// compile-time check that *http.Client can carry token requests.
var _ policy.Transporter = (*http.Client)(nil)
