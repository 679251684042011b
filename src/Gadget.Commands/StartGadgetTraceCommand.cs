using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace Gadget.Commands;

/// <summary>Start-GadgetTrace: runs any gadget by name, with its parameters as a hashtable.</summary>
[Cmdlet(VerbsLifecycle.Start, "GadgetTrace", DefaultParameterSetName = LocalParameterSet)]
[OutputType(typeof(ExecEvent), typeof(OpenEvent), typeof(DnsEvent), typeof(SignalEvent), typeof(TcpEvent), typeof(BindEvent), typeof(MountEvent), typeof(OomKillEvent), typeof(CapabilitiesEvent), typeof(TopBlockIORow), typeof(TopTcpRow), typeof(TopFileRow), typeof(ProcessEntry), typeof(SocketEntry), typeof(PSObject), typeof(TraceStatistics))]
public sealed class StartGadgetTraceCommand : TraceCommand
{
    /// <summary>The gadget's name (exec, open, dns, signal, process; flood, a synthetic source for benchmarks).</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(GadgetNameCompleter))]
    public string Gadget { get; set; } = string.Empty;

    /// <summary>The gadget's own parameters by name (e.g. @{ 'include-failed' = $true }).</summary>
    [Parameter]
    [ValidateNotNull]
    public Hashtable? Parameter { get; set; }

    private protected override string GadgetName => Gadget;

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
}

/// <summary>Completes gadget names: the built-in gadgets, without the diagnostic ones.</summary>
public sealed class GadgetNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
        => Tracing.EventTypes.Gadgets
            .Where(name => name.StartsWith(wordToComplete, StringComparison.OrdinalIgnoreCase))
            .Select(name => new CompletionResult(name));
}
