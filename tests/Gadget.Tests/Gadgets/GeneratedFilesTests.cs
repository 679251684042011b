using System.Diagnostics;
using Gadget.Generator;
using Xunit;

namespace Gadget.Tests.Gadgets;

/// <summary>
/// The event classes, the type table and the format views are generated from the gadgets' BTF and
/// gadget.yaml and checked in: they must be what the generator makes of the objects built now.
/// </summary>
public sealed class GeneratedFilesTests
{
    [Fact]
    public void TheGeneratedFilesAreCurrent()
    {
        string root = Repository.Root;
        IReadOnlyList<GeneratedFile> files = CatalogGenerator.Generate(root, CatalogGenerator.DefaultObjectDirectory(root));

        string[] stale = [.. files.Where(f => !f.IsCurrent(root)).Select(f => f.Path)];

        Assert.True(stale.Length == 0, $"Out of date (run ./build.ps1 -Task Generate): {string.Join(", ", stale)}");
    }

    [Fact]
    public void EveryEventTypeTheAgentNamesIsGenerated()
    {
        string root = Repository.Root;
        IReadOnlyList<GeneratedFile> files = CatalogGenerator.Generate(root, CatalogGenerator.DefaultObjectDirectory(root));
        string[] typeNames = [.. Gadget.Agent.Gadgets.GadgetCatalog.Default.All.Select(g => g.Schema.TypeName).OfType<string>().Distinct().Order(StringComparer.Ordinal)];

        Assert.Equal(typeNames, Tracing.EventTypes.Names);
        Assert.All(typeNames, type => Assert.Contains(files, f => f.Path == $"{CatalogGenerator.EventsDirectory}/{type}.g.cs"));
        Assert.Contains(files, f => f.Path == CatalogGenerator.FormatFile);
    }

    [Fact]
    public void TheGeneratorsCheckModePassesHereAndFailsOnAStaleFile()
    {
        // What build.ps1 and CI run: the generator itself, in --check mode.
        string root = Repository.Root;
        (int exitCode, string errors) = RunCheck(root);
        Assert.True(exitCode == 0, errors);

        // A copy of what the generator reads and writes, with one generated file edited by hand.
        string copy = Directory.CreateTempSubdirectory("gadget-generated-").FullName;
        try
        {
            foreach (string yaml in Directory.GetFiles(Path.Combine(root, "bpf"), "gadget.yaml", SearchOption.AllDirectories))
            {
                string target = Path.Combine(copy, Path.GetRelativePath(root, yaml));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(yaml, target);
            }

            string objects = CatalogGenerator.DefaultObjectDirectory(copy);
            Directory.CreateDirectory(objects);
            foreach (string compiled in Directory.GetFiles(CatalogGenerator.DefaultObjectDirectory(root), "*.bpf.o"))
            {
                File.Copy(compiled, Path.Combine(objects, Path.GetFileName(compiled)));
            }

            IReadOnlyList<GeneratedFile> files = CatalogGenerator.Generate(copy, objects);
            foreach (GeneratedFile file in files)
            {
                file.Write(copy);
            }

            Assert.Equal(0, RunCheck(copy).ExitCode);
            File.AppendAllText(Path.Combine(copy, files[0].Path), "// edited by hand\n");

            (exitCode, errors) = RunCheck(copy);
            Assert.Equal(1, exitCode);
            Assert.Equal($"out of date: {files[0].Path}", errors.Trim());
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    }

    private static (int ExitCode, string Errors) RunCheck(string root)
    {
        string generator = Path.Combine(AppContext.BaseDirectory, "Gadget.Generator.dll");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            ArgumentList = { generator, root, "--check" },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using Process process = Process.Start(start)!;
        string errors = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), "The generator did not finish within a minute.");
        return (process.ExitCode, errors);
    }
}
