package summary

import (
	"errors"

	"github.com/mfabot/mfabot/approvals"
)

// refused reports whether Graph refused a read for want of a licence or a permission:
// the summary then says what is missing instead of failing.
func refused(err error) bool {
	return errors.Is(err, approvals.ErrLicence) || errors.Is(err, approvals.ErrAccessDenied)
}

const consentSteps = " with admin consent (Microsoft Entra admin center → App registrations → mfabot → " +
	"API permissions → Add a permission → Microsoft Graph → Application permissions), then Grant admin consent."

func reportGap(err error) Gap {
	if errors.Is(err, approvals.ErrLicence) {
		return Gap{
			What: "MFA registration figures",
			Why:  "The registration report (userRegistrationDetails) needs Microsoft Entra ID P1 or P2 in this tenant.",
			Fix: "Add Microsoft Entra ID P1 or P2 to the tenant (it is part of Microsoft 365 E3, E5 and " +
				"Business Premium); the report fills within a day.",
		}
	}
	return Gap{
		What: "MFA registration figures",
		Why:  "Microsoft Graph denied mfabot access to the registration report (userRegistrationDetails).",
		Fix:  "Grant the application permission AuditLog.Read.All" + consentSteps,
	}
}

func usersGap(error) Gap {
	return Gap{
		What: "Directory counts (disabled accounts could not be left out)",
		Why:  "Microsoft Graph denied mfabot access to the list of users.",
		Fix:  "Grant the application permission User.Read.All" + consentSteps,
	}
}
