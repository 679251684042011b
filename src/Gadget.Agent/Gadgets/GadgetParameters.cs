using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Gadget.Bpf;
using Gadget.Protocol.V1;
using Gadget.Schema;
using FieldKind = Gadget.Schema.FieldKind;

namespace Gadget.Agent.Gadgets;

/// <summary>
/// A parameter a request may set: a program variable marked with GADGET_PARAM (converted to its
/// BTF type here), or one the gadget's hook interprets.
/// </summary>
internal sealed record GadgetParameter(string Key, string Description, string? DefaultValue, string? Variable, FieldSchema? Type, long? Minimum, long? Maximum)
{
    /// <summary>The help line clients show: the description, the type and the default.</summary>
    public string Help
    {
        get
        {
            string help = Description;
            if (Type is not null && string.IsNullOrEmpty(help))
            {
                help = $"sets {Variable} ({Type.TypeName})";
            }

            return DefaultValue is null || help.Contains("default", StringComparison.OrdinalIgnoreCase) ? help : $"{help} Default: {DefaultValue}.";
        }
    }
}

/// <summary>Typed reads of TraceRequest.parameters with errors that name the parameter.</summary>
internal static class GadgetParameters
{
    public const string InvalidParameterId = "InvalidGadgetParameter";

    /// <summary>The parameters of an object: its GADGET_PARAM variables (keyed by gadget.yaml, else by name) and gadget.yaml's agent parameters.</summary>
    public static IReadOnlyList<GadgetParameter> Describe(GadgetObjectInfo info, GadgetMetadata metadata, bool includeAgentParameters = true)
    {
        var parameters = new List<GadgetParameter>();
        foreach (ParameterInfo marked in info.Parameters)
        {
            ParameterMetadata? described = metadata.ProgramParameters.FirstOrDefault(p => p.Variable == marked.VariableName);
            parameters.Add(new GadgetParameter(described?.Key ?? marked.VariableName, described?.Description ?? string.Empty,
                described?.DefaultValue ?? DefaultText(marked), marked.VariableName, marked.Type, described?.Minimum, described?.Maximum));
        }

        foreach (ParameterMetadata agent in includeAgentParameters ? metadata.AgentParameters : [])
        {
            parameters.Add(new GadgetParameter(agent.Key, agent.Description, agent.DefaultValue, null, null, agent.Minimum, agent.Maximum));
        }

        return parameters;
    }

    /// <summary>The error id of a parameter name a user's program does not have.</summary>
    public const string UnknownProgramParameterId = "UnknownProgramParameter";

    /// <summary>
    /// Refuses names the gadget does not know, so a typo is never silently ignored. A user's
    /// program takes a parameter by its gadget.yaml key or by its variable's name, and is told
    /// every parameter it has, with its type and default.
    /// </summary>
    public static void CheckKnown(TraceRequest request, GadgetDefinition gadget)
    {
        var seen = new HashSet<GadgetParameter>();
        foreach (string name in request.Parameters.Keys)
        {
            GadgetParameter? parameter = Find(gadget, name);
            if (parameter is null)
            {
                if (gadget.IsUserProgram)
                {
                    string valid = gadget.Parameters.Count == 0
                        ? "It has none."
                        : "Valid keys: " + string.Join("; ", gadget.Parameters.Select(p =>
                            $"{p.Key}{(p.Variable is not null && p.Variable != p.Key ? $" (variable {p.Variable})" : string.Empty)}: {p.Type?.TypeName ?? "text"}, default {p.DefaultValue ?? "none"}")) + ".";
                    throw new GadgetRequestException(UnknownProgramParameterId, $"The program '{gadget.Name}' has no parameter '{name}'. {valid}");
                }

                string known = gadget.Parameters.Count == 0 ? "none" : string.Join(", ", gadget.Parameters.Select(p => p.Key));
                throw new GadgetRequestException(InvalidParameterId, $"Gadget '{gadget.Name}' has no parameter '{name}' (known: {known}).");
            }

            if (!seen.Add(parameter))
            {
                throw new GadgetRequestException(InvalidParameterId, $"Parameter '{parameter.Key}' is given twice (by its key and by its variable's name).");
            }
        }
    }

    /// <summary>The parameter a request names: by key, or, for a user's program, by its variable's name.</summary>
    private static GadgetParameter? Find(GadgetDefinition gadget, string name)
        => gadget.Parameters.FirstOrDefault(p => p.Key == name)
            ?? (gadget.IsUserProgram ? gadget.Parameters.FirstOrDefault(p => p.Variable == name) : null);

    /// <summary>The text a request gives for <paramref name="parameter"/> (by key or variable name), or null.</summary>
    private static string? ValueOf(TraceRequest request, GadgetDefinition gadget, GadgetParameter parameter)
    {
        if (request.Parameters.TryGetValue(parameter.Key, out string? text))
        {
            return text;
        }

        return gadget.IsUserProgram && parameter.Variable is not null && request.Parameters.TryGetValue(parameter.Variable, out text) ? text : null;
    }

    /// <summary>Writes the request's values of the program's own parameters into its constants, each converted to its variable's BTF type.</summary>
    public static void SetProgramParameters(BpfObject bpf, TraceRequest request, GadgetDefinition gadget)
    {
        foreach (GadgetParameter parameter in gadget.Parameters)
        {
            if (parameter.Variable is null || parameter.Type is null || ValueOf(request, gadget, parameter) is not string text || string.IsNullOrEmpty(text))
            {
                continue;
            }

            bpf.SetConstant(parameter.Variable, Convert(parameter, text));
        }
    }

    public static bool Bool(TraceRequest request, string name, bool defaultValue = false)
    {
        if (!request.Parameters.TryGetValue(name, out string? text) || string.IsNullOrEmpty(text))
        {
            return defaultValue;
        }

        return ParseBool(text) ?? throw new GadgetRequestException(InvalidParameterId, $"Parameter '{name}' must be true or false, not '{text}'.");
    }

    /// <summary>A value in the variable's representation: little-endian integers, a NUL-terminated string.</summary>
    internal static byte[] Convert(GadgetParameter parameter, string text)
    {
        FieldSchema type = parameter.Type!;
        switch (type.Kind)
        {
            case FieldKind.Bool:
                return ParseBool(text) is bool flag
                    ? [flag ? (byte)1 : (byte)0]
                    : throw new GadgetRequestException(InvalidParameterId, $"Parameter '{parameter.Key}' must be true or false, not '{text}'.");
            case FieldKind.Int or FieldKind.Enum:
                // Little-endian: the low bytes of the 64-bit value are the narrower one's.
                byte[] wide = new byte[8];
                BinaryPrimitives.WriteInt64LittleEndian(wide, ParseInteger(parameter, type, text));
                return wide[..type.Size];
            case FieldKind.String:
                byte[] utf8 = Encoding.UTF8.GetBytes(text);
                if (utf8.Length >= type.Size)
                {
                    throw new GadgetRequestException(InvalidParameterId, $"Parameter '{parameter.Key}' holds at most {type.Size - 1} bytes; '{text}' has {utf8.Length}.");
                }

                byte[] terminated = new byte[type.Size];
                utf8.CopyTo(terminated, 0);
                return terminated;
            default:
                throw new GadgetRequestException(InvalidParameterId, $"Parameter '{parameter.Key}' sets {parameter.Variable}, a {type.TypeName}, which cannot be set from text.");
        }
    }

    private static long ParseInteger(GadgetParameter parameter, FieldSchema type, string text)
    {
        (long min, long max) = (type.Size, type.Signed) switch
        {
            (1, true) => (sbyte.MinValue, sbyte.MaxValue),
            (1, false) => (byte.MinValue, byte.MaxValue),
            (2, true) => (short.MinValue, short.MaxValue),
            (2, false) => (ushort.MinValue, ushort.MaxValue),
            (4, true) => (int.MinValue, int.MaxValue),
            (4, false) => (uint.MinValue, uint.MaxValue),
            _ => (long.MinValue, long.MaxValue),
        };
        min = Math.Max(min, parameter.Minimum ?? long.MinValue);
        max = Math.Min(max, parameter.Maximum ?? long.MaxValue);
        long value;
        if (type.Kind == FieldKind.Enum && type.EnumMembers.FirstOrDefault(m => string.Equals(m.Name, text, StringComparison.OrdinalIgnoreCase)) is { Name: not null } member)
        {
            value = member.Value;
        }
        else if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value))
        {
            throw new GadgetRequestException(InvalidParameterId, $"Parameter '{parameter.Key}' must be a whole number from {min} to {max}, not '{text}'.");
        }

        return value >= min && value <= max
            ? value
            : throw new GadgetRequestException(InvalidParameterId, $"Parameter '{parameter.Key}' must be a whole number from {min} to {max}, not '{text}'.");
    }

    private static bool? ParseBool(string text) => text.ToLowerInvariant() switch
    {
        "true" or "1" => true,
        "false" or "0" => false,
        _ => null,
    };

    /// <summary>The default a program was compiled with, as text.</summary>
    private static string? DefaultText(ParameterInfo parameter)
    {
        ReadOnlySpan<byte> bytes = parameter.DefaultValue.Span;
        FieldSchema type = parameter.Type;
        return type.Kind switch
        {
            FieldKind.Bool when bytes.Length >= 1 => bytes[0] != 0 ? "true" : "false",
            FieldKind.Int or FieldKind.Enum when bytes.Length >= type.Size && type.Size is 1 or 2 or 4 or 8 => ReadInteger(bytes, type.Size, type.Signed).ToString(CultureInfo.InvariantCulture),
            FieldKind.String => Encoding.UTF8.GetString(bytes.IndexOf((byte)0) is int end and >= 0 ? bytes[..end] : bytes),
            _ => null,
        };
    }

    private static long ReadInteger(ReadOnlySpan<byte> bytes, int size, bool signed) => (size, signed) switch
    {
        (1, true) => (sbyte)bytes[0],
        (1, false) => bytes[0],
        (2, true) => BinaryPrimitives.ReadInt16LittleEndian(bytes),
        (2, false) => BinaryPrimitives.ReadUInt16LittleEndian(bytes),
        (4, true) => BinaryPrimitives.ReadInt32LittleEndian(bytes),
        (4, false) => BinaryPrimitives.ReadUInt32LittleEndian(bytes),
        _ => BinaryPrimitives.ReadInt64LittleEndian(bytes),
    };
}
