using System.Text;
using Gadget.Agent.Services;
using Gadget.Protocol.V1;
using Gadget.Schema;
using Grpc.Core;

namespace Gadget.Agent.Gadgets;

/// <summary>
/// Users' own programs (Invoke-GadgetProgram): a compiled object sent with the request becomes a
/// gadget for that one trace, read and run by the same generic path as the agent's own.
/// </summary>
internal static class UserPrograms
{
    /// <summary>The largest object the agent takes: far more than any real program (IG's are under 1 MiB).</summary>
    public const int MaxObjectBytes = 32 << 20;

    public const string NotAllowedId = "ProgramsNotAllowed";
    public const string TooLargeId = "ProgramTooLarge";
    public const string InvalidObjectId = "InvalidGadgetObject";

    /// <summary>The gadget a request's program makes; throws an <see cref="RpcException"/> that says what is wrong.</summary>
    public static GadgetDefinition Define(GadgetProgram program, AgentOptions options)
    {
        string node = string.IsNullOrEmpty(options.NodeName) ? "this host" : options.NodeName;
        if (!options.AllowPrograms)
        {
            throw AgentErrors.Create(StatusCode.PermissionDenied, NotAllowedId,
                $"The agent on {node} does not run users' own programs. Start it with --allow-programs: in a cluster, Install-Gadget -AllowPrograms; " +
                "on a host, stop the running agent so that the cmdlet starts a private one, or start it with --allow-programs.");
        }

        if (program.Object.Length > MaxObjectBytes)
        {
            throw AgentErrors.Create(StatusCode.InvalidArgument, TooLargeId,
                $"The program is {program.Object.Length} bytes; the agent takes objects of at most {MaxObjectBytes >> 20} MiB ({MaxObjectBytes} bytes).");
        }

        try
        {
            GadgetMetadata metadata = string.IsNullOrWhiteSpace(program.Metadata) ? GadgetMetadata.Empty : GadgetMetadata.Parse(program.Metadata);
            byte[] bytes = program.Object.ToByteArray();
            string name = NameOf(metadata.Name, program.Name, bytes);
            return new GadgetDefinition(name, () => bytes, metadata, hook: null, isUserProgram: true);
        }
        catch (GadgetObjectException invalid)
        {
            throw AgentErrors.Create(StatusCode.InvalidArgument, InvalidObjectId, invalid.Message);
        }
    }

    /// <summary>gadget.yaml's name, else the client's (the file's), else the tracer's or snapshot's; letters, digits, _ and - only.</summary>
    private static string NameOf(string fromMetadata, string fromClient, byte[] bytes)
    {
        string name = !string.IsNullOrWhiteSpace(fromMetadata) ? fromMetadata : fromClient;
        if (string.IsNullOrWhiteSpace(name))
        {
            GadgetObjectInfo info = GadgetObjectReader.Read(bytes);
            name = info.Tracers.Count > 0 ? info.Tracers[0].Name : info.Snapshots.Count > 0 ? info.Snapshots[0].Name : "program";
        }

        var clean = new StringBuilder(name.Length);
        foreach (char c in name)
        {
            clean.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' ? c : '_');
        }

        return clean.Length > 64 ? clean.ToString(0, 64) : clean.ToString();
    }
}
