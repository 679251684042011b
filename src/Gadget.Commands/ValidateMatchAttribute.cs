using System.Globalization;
using System.Management.Automation;
using System.Text.RegularExpressions;

namespace Gadget.Commands;

/// <summary>
/// ValidatePattern with the message the parameter's help needs. PowerShell 6 added
/// <c>ErrorMessage</c> to ValidatePattern, but the cmdlets compile against PowerShell Standard 5.1,
/// which 7.4 runs, so the module carries its own. <c>{0}</c> in the message is the value.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class ValidateMatchAttribute(string pattern) : ValidateEnumeratedArgumentsAttribute
{
    // Patterns are the module's own constants, anchored and short; the timeout is a backstop.
    private readonly Regex _regex = new(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public string Pattern { get; } = pattern;

    /// <summary>The message when the value does not match; <c>{0}</c> is the value, <c>{1}</c> the pattern.</summary>
    public string? ErrorMessage { get; set; }

    protected override void ValidateElement(object element)
    {
        string text = Convert.ToString(element is PSObject wrapped ? wrapped.BaseObject : element, CultureInfo.InvariantCulture) ?? string.Empty;
        if (!_regex.IsMatch(text))
        {
            throw new ValidationMetadataException(string.Format(CultureInfo.InvariantCulture,
                ErrorMessage ?? "The argument \"{0}\" does not match the \"{1}\" pattern.", text, Pattern));
        }
    }
}
