using System.Reflection;
using System.Runtime.Loader;

namespace Gadget.LoadContext;

/// <summary>
/// The load context of the module's assemblies and the libraries they ship (gRPC, protobuf, the
/// Kubernetes client, YamlDotNet). Another module in the same session may load other versions of
/// those libraries, before Gadget or after it; in one shared context the second to come would fail
/// to load its own. PowerShell and .NET themselves still come from the default context, so the
/// cmdlets and the objects they write are the session's ordinary types.
/// </summary>
public sealed class ModuleLoadContext : AssemblyLoadContext
{
    private const string CommandsAssembly = "Gadget.Commands.dll";

    /// <summary>The assemblies whose public types the cmdlets take and write (events, enums, statistics).</summary>
    private static readonly string[] PublicAssemblies = ["Gadget.Commands", "Gadget.Client"];

    private static readonly object Gate = new();
    private static readonly Dictionary<string, ModuleLoadContext> ByDirectory = new(StringComparer.Ordinal);

    private readonly string _directory;

    private ModuleLoadContext(string directory)
        : base($"Gadget ({directory})")
    {
        _directory = directory;
        Commands = LoadFromAssemblyPath(Path.Join(directory, CommandsAssembly));
    }

    /// <summary>The cmdlets' assembly, for <c>Import-Module -Assembly</c>.</summary>
    public Assembly Commands { get; }

    /// <summary>
    /// The public types of the assemblies the cmdlets take and write. PowerShell resolves a type
    /// literal such as <c>[Gadget.DnsResponseCode]</c> among the default context's assemblies only, so
    /// the module names these to it (as type accelerators).
    /// </summary>
    public IReadOnlyList<Type> PublicTypes =>
        [.. PublicAssemblies.SelectMany(name => LoadFromAssemblyName(new AssemblyName(name)).GetExportedTypes())];

    /// <summary>
    /// The context of the module in <paramref name="moduleDirectory"/>: created, with the cmdlets'
    /// assembly loaded, the first time; the same context afterwards (Import-Module -Force).
    /// </summary>
    public static ModuleLoadContext ForModule(string moduleDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(moduleDirectory);
        string directory = Path.GetFullPath(moduleDirectory);
        lock (Gate)
        {
            if (!ByDirectory.TryGetValue(directory, out ModuleLoadContext? context))
            {
                context = new ModuleLoadContext(directory);
                ByDirectory.Add(directory, context);
            }

            return context;
        }
    }

    /// <summary>The module's own copy of an assembly when it ships one; otherwise the default context's.</summary>
    protected override Assembly? Load(AssemblyName assemblyName)
    {
        string path = Path.Join(_directory, assemblyName.Name + ".dll");
        return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
    }
}
