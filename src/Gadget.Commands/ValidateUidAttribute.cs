using System.Management.Automation;

namespace Gadget.Commands;

/// <summary>
/// Refuses -Uid 4294967295: it is (uid_t)-1, which no process runs as (the kernel reserves it
/// for "no user"), and which the kernel filter takes for "any user", so it would trace everyone.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class ValidateUidAttribute : ValidateArgumentsAttribute
{
    protected override void Validate(object arguments, EngineIntrinsics engineIntrinsics)
    {
        object value = arguments is PSObject wrapped ? wrapped.BaseObject : arguments;
        if (value is uint.MaxValue)
        {
            throw new ValidationMetadataException(
                $"-Uid {uint.MaxValue} is (uid_t)-1, which the kernel reserves for \"no user\": no process runs as it. Give a user id from 0 to {uint.MaxValue - 1}.");
        }
    }
}
