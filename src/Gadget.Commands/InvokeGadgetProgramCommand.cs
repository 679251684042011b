using System.Collections;
using System.Globalization;
using System.Management.Automation;

namespace Gadget.Commands;

/// <summary>
/// Invoke-GadgetProgram: runs a user's own eBPF program (an object compiled to Inspektor Gadget's
/// program conventions, or an OCI image archive of one) on this host or every node, and writes
/// its records as objects.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "GadgetProgram", DefaultParameterSetName = LocalParameterSet)]
[OutputType(typeof(PSObject), typeof(TraceStatistics))]
public sealed class InvokeGadgetProgramCommand : TraceCommand
{
    private GadgetProgramFile? _program;
    private ProgramObject? _shape;

    /// <summary>The program: an eBPF object (.bpf.o) or an OCI image archive (.tar, as 'ig image export' writes it).</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    [Alias("FilePath")]
    public string Path { get; set; } = string.Empty;

    /// <summary>The program's gadget.yaml (parameter keys, descriptions, columns), for a plain object.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Metadata { get; set; }

    /// <summary>The program's parameters by gadget.yaml key or variable name (@{ failed = $true }).</summary>
    [Parameter]
    [ValidateNotNull]
    public Hashtable? Parameter { get; set; }

    private protected override string GadgetName => _program?.Name ?? "program";

    private protected override GadgetProgramFile? ProgramFile => _program;

    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        string path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
        string? metadata = Metadata is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(Metadata);
        try
        {
            _program = GadgetProgramFile.Read(path, metadata);
        }
        catch (GadgetException exception)
        {
            ThrowTerminatingError(GadgetErrors.ToErrorRecord(exception, path));
        }
        catch (IOException exception)
        {
            ThrowTerminatingError(new ErrorRecord(exception, "ProgramFileUnreadable", ErrorCategory.ReadError, path));
        }
        catch (UnauthorizedAccessException exception)
        {
            ThrowTerminatingError(new ErrorRecord(exception, "ProgramFileUnreadable", ErrorCategory.PermissionDenied, path));
        }
    }

    private protected override void AddParameters(IDictionary<string, string> parameters)
    {
        if (Parameter is null)
        {
            return;
        }

        foreach (DictionaryEntry entry in Parameter)
        {
            object? value = entry.Value is PSObject wrapped ? wrapped.BaseObject : entry.Value;
            parameters[Convert.ToString(entry.Key, CultureInfo.InvariantCulture)!] = value switch
            {
                bool flag => flag ? "true" : "false",
                SwitchParameter flag => flag.IsPresent ? "true" : "false",
                _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty,
            };
        }
    }

    private protected override object Output(GadgetEvent gadgetEvent)
    {
        if (gadgetEvent is not GadgetRecord record)
        {
            return gadgetEvent;
        }

        if (_shape is null || !ReferenceEquals(_shape.Schema, record.Schema))
        {
            // Each agent sends its own copy of the schema; they describe one program.
            if (_shape is null || _shape.Schema.Gadget != record.Schema.Gadget || _shape.Schema.Fields.Count != record.Schema.Fields.Count)
            {
                _shape = new ProgramObject(record.Schema, resolveAccountNames: Local);
                RegisterView(_shape);
            }
        }

        return _shape.From(record);
    }

    /// <summary>A directory of this process's own (mode 700), for the views it generates: never one another user could have prepared.</summary>
    private static readonly Lazy<string> ViewDirectory = new(() => Directory.CreateTempSubdirectory("gadget-views-").FullName);

    /// <summary>The files loaded into each runspace's format table so far.</summary>
    private static readonly HashSet<(Guid Runspace, string File)> Loaded = [];

    /// <summary>
    /// Loads the program's table view into this session. One file per type name, rewritten when
    /// the program's shape changes (another gadget.yaml), then reloaded: two views of one type
    /// would leave PowerShell to pick either.
    /// </summary>
    private void RegisterView(ProgramObject shape)
    {
        try
        {
            string xml = shape.FormatXml();
            string file = System.IO.Path.Combine(ViewDirectory.Value, $"{shape.TypeName}.format.ps1xml");
            Guid runspace = System.Management.Automation.Runspaces.Runspace.DefaultRunspace?.InstanceId ?? Guid.Empty;
            bool changed;
            bool first;
            lock (Loaded)
            {
                changed = !File.Exists(file) || File.ReadAllText(file) != xml;
                if (changed)
                {
                    File.WriteAllText(file, xml);
                }

                first = Loaded.Add((runspace, file));
            }

            if (first)
            {
                InvokeCommand.InvokeScript("param($file) Update-FormatData -PrependPath $file", false, System.Management.Automation.Runspaces.PipelineResultTypes.None, null, file);
            }
            else if (changed)
            {
                InvokeCommand.InvokeScript("Update-FormatData", false, System.Management.Automation.Runspaces.PipelineResultTypes.None, null);
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or RuntimeException)
        {
            // Without the view the objects show their default display properties.
            WriteVerbose($"The table view of {shape.TypeName} was not loaded: {exception.Message}");
        }
    }
}
