using System.Globalization;
using Gadget.Protocol.V1;

namespace Gadget.Agent.Gadgets;

/// <summary>Typed reads of TraceRequest.parameters with errors that name the parameter.</summary>
internal static class GadgetParameters
{
    public const string InvalidParameterId = "InvalidGadgetParameter";

    public static bool Bool(TraceRequest request, string name, bool defaultValue = false)
    {
        if (!request.Parameters.TryGetValue(name, out string? text) || string.IsNullOrEmpty(text))
        {
            return defaultValue;
        }

        return bool.TryParse(text, out bool value)
            ? value
            : throw new GadgetRequestException(InvalidParameterId, $"Parameter '{name}' must be true or false, not '{text}'.");
    }

    public static int Int(TraceRequest request, string name, int defaultValue, int minimum, int maximum)
    {
        if (!request.Parameters.TryGetValue(name, out string? text) || string.IsNullOrEmpty(text))
        {
            return defaultValue;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value >= minimum && value <= maximum
            ? value
            : throw new GadgetRequestException(InvalidParameterId, $"Parameter '{name}' must be a whole number from {minimum} to {maximum}, not '{text}'.");
    }

    /// <summary>Refuses names the gadget does not know, so a typo is never silently ignored.</summary>
    public static void CheckKnown(TraceRequest request, GadgetDefinition gadget)
    {
        foreach (string name in request.Parameters.Keys)
        {
            if (!gadget.Parameters.ContainsKey(name))
            {
                string known = gadget.Parameters.Count == 0 ? "none" : string.Join(", ", gadget.Parameters.Keys);
                throw new GadgetRequestException(InvalidParameterId, $"Gadget '{gadget.Name}' has no parameter '{name}' (known: {known}).");
            }
        }
    }
}
