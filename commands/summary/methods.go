package summary

// methodLabels names the values of userRegistrationDetails.methodsRegistered for people.
// Values Graph adds later are shown as they come.
var methodLabels = map[string]string{
	"microsoftAuthenticatorPush":         "Authenticator push",
	"microsoftAuthenticatorPasswordless": "Authenticator passwordless",
	"mobilePhone":                        "Mobile phone",
	"alternateMobilePhone":               "Alternate mobile phone",
	"officePhone":                        "Office phone",
	"sms":                                "SMS",
	"fido2":                              "FIDO2 security key",
	"fido2SecurityKey":                   "FIDO2 security key",
	"passKeyDeviceBound":                 "Passkey (device-bound)",
	"passKeyDeviceBoundAuthenticator":    "Passkey in Authenticator",
	"passKeyDeviceBoundWindowsHello":     "Passkey in Windows Hello",
	"passKeySynced":                      "Passkey (synced)",
	"windowsHelloForBusiness":            "Windows Hello for Business",
	"macOsSecureEnclaveKey":              "macOS Secure Enclave key",
	"softwareOneTimePasscode":            "Software OTP",
	"hardwareOneTimePasscode":            "Hardware OTP",
	"temporaryAccessPass":                "Temporary Access Pass",
	"email":                              "Email",
	"securityQuestion":                   "Security questions",
	"appPassword":                        "App password",
	"externalAuthMethod":                 "External method",
	"qrCode":                             "QR code",
}

// methodAliases maps values Graph reports under two names to one, so that a user listing
// both is counted once.
var methodAliases = map[string]string{
	"fido2SecurityKey": "fido2",
}

func canonicalMethod(m string) string {
	if c, ok := methodAliases[m]; ok {
		return c
	}
	return m
}

// MethodLabel is the readable name of a methodsRegistered value.
func MethodLabel(method string) string {
	if l, ok := methodLabels[method]; ok {
		return l
	}
	return method
}
