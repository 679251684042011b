using System.Diagnostics;
using Gadget.Connection;
using Gadget.KubeStub;
using Gadget.Tests.Kernel;
using Xunit;

namespace Gadget.Tests.Cluster;

/// <summary>
/// The client on .NET 8, the runtime of PowerShell 7.4 and so of Azure Automation: a self-contained
/// net8.0 program (tests/Gadget.Net8Check, with the .NET 8 runtime pack from NuGet) does what the
/// cmdlets do. This test host runs on .NET 10 and cannot load .NET 8 itself.
/// </summary>
public sealed class Net8ClientTests
{
    private static string ProgramPath()
    {
        // tests/Gadget.Tests/bin/<Configuration>/net10.0/ → tests/Gadget.Net8Check/bin/<Configuration>/net8.0/<rid>/
        var testDirectory = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string configuration = testDirectory.Parent!.Name;
        string tests = testDirectory.Parent.Parent!.Parent!.Parent!.FullName;
        string output = Path.Combine(tests, "Gadget.Net8Check", "bin", configuration, "net8.0");
        string? program = Directory.Exists(output)
            ? Directory.EnumerateFiles(output, "gadget-net8check", SearchOption.AllDirectories).FirstOrDefault()
            : null;
        return program ?? throw new InvalidOperationException($"gadget-net8check is not built under {output} (dotnet build Gadget.sln).");
    }

    private static async Task<(int ExitCode, string Output, string Errors)> RunAsync(IDictionary<string, string>? environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(ProgramPath()) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await errors);
    }

    [Fact]
    public async Task TheProgramRunsOnTheDotnet8RuntimeFromNuGet()
    {
        (int exitCode, string output, string errors) = await RunAsync(null, "runtime");
        Assert.True(exitCode == 0, errors);
        Assert.StartsWith("runtime 8.0.", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OnDotnet8TheClientInstallsThroughTheApiServer()
    {
        await using KubeApiStub stub = await KubeApiStub.StartAsync();
        string kubeconfig = Path.Combine(Path.GetTempPath(), $"gadget-net8-kubeconfig-{Guid.NewGuid():N}");
        File.WriteAllText(kubeconfig, stub.KubeConfig());
        try
        {
            (int exitCode, string output, string errors) = await RunAsync(null, "install", kubeconfig);
            Assert.True(exitCode == 0, errors + output);
            string[] installed = [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("install ", StringComparison.Ordinal))];
            Assert.Equal(6, installed.Length);
            Assert.All(installed, line => Assert.EndsWith(" Created", line, StringComparison.Ordinal));
            Assert.Contains("install DaemonSet Created", installed);
        }
        finally
        {
            File.Delete(kubeconfig);
        }
    }

    [KernelFact]
    public async Task OnDotnet8TheClientStartsALocalAgentAndTracesAnExec()
    {
        string marker = $"gadget-net8-{Guid.NewGuid():N}";
        string scratch = Directory.CreateTempSubdirectory("gadget-net8-").FullName;
        try
        {
            var environment = new Dictionary<string, string>
            {
                [LocalAgent.AgentPathVariable] = AgentProcess.ExecutablePath,
                // Nothing listens here: the program starts its own agent, as a runbook's -Local would.
                [LocalAgent.SocketVariable] = Path.Combine(scratch, "none", "agent.sock"),
            };
            (int exitCode, string output, string errors) = await RunAsync(environment, "exec", marker);
            Assert.True(exitCode == 0, errors + output);
            Assert.Contains($" /bin/true /bin/true {marker}", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }
}
