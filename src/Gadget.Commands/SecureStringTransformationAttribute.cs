using System.Management.Automation;
using System.Security;

namespace Gadget.Commands;

/// <summary>
/// Lets -Token take a string as well as a SecureString: Get-AzAccessToken gives one or the other
/// depending on the Az version, and a runbook should not have to care.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class SecureStringTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        switch (value)
        {
            case SecureString secure:
                return secure;
            case string text:
                var converted = new SecureString();
                foreach (char c in text)
                {
                    converted.AppendChar(c);
                }

                converted.MakeReadOnly();
                return converted;
            default:
                // Never the value itself: it is a credential.
                throw new ArgumentTransformationMetadataException($"-Token takes a string or a SecureString, not a {value?.GetType().Name ?? "null"}.");
        }
    }
}
