using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;

namespace Gadget.Tests.Schema;

/// <summary>
/// Compiles the C programs under Schema/programs with clang, as the agent build compiles gadgets,
/// once per test run, and asks bpftool what their BTF says.
/// </summary>
internal static class TestPrograms
{
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(60);
    private static readonly string SourceDirectory = Path.Combine(AppContext.BaseDirectory, "Schema", "programs");
    private static readonly Lazy<string> OutputDirectory = new(() =>
        Directory.CreateTempSubdirectory("gadget-schema-tests-").FullName);
    private static readonly ConcurrentDictionary<string, Lazy<string>> Compiled = new();

    /// <summary>The object file compiled from <paramref name="program"/> (a file name under programs/).</summary>
    public static string ObjectPath(string program, bool debugInfo = true)
        => Compiled.GetOrAdd($"{program}|{debugInfo}", _ => new Lazy<string>(() => Compile(program, debugInfo))).Value;

    public static byte[] Object(string program, bool debugInfo = true) => File.ReadAllBytes(ObjectPath(program, debugInfo));

    /// <summary><c>bpftool -j btf dump file</c>: every type of the object, by id.</summary>
    public static Dictionary<int, JsonElement> BpftoolTypes(string objectPath)
    {
        string json = Run("bpftool", "-j", "btf", "dump", "file", objectPath);
        using JsonDocument document = JsonDocument.Parse(json);
        return document.RootElement.GetProperty("types").EnumerateArray()
            .ToDictionary(t => t.GetProperty("id").GetInt32(), t => t.Clone());
    }

    private static string Compile(string program, bool debugInfo)
    {
        string source = Path.Combine(SourceDirectory, program);
        string output = Path.Combine(OutputDirectory.Value, Path.GetFileNameWithoutExtension(program) + (debugInfo ? ".o" : ".nodebug.o"));
        var arguments = new List<string> { "-O2", "-target", "bpf", "-D__TARGET_ARCH_x86", "-Wall", "-Werror" };
        if (debugInfo)
        {
            arguments.Add("-g");
        }

        // <linux/types.h> needs <asm/types.h>, which Debian keeps in the multiarch folder.
        arguments.AddRange(Directory.GetDirectories("/usr/include", "*-linux-gnu*")
            .Where(d => File.Exists(Path.Combine(d, "asm", "types.h")))
            .Select(d => "-I" + d));
        arguments.AddRange(["-I", SourceDirectory, "-c", source, "-o", output]);
        Run("clang", [.. arguments]);
        return output;
    }

    private static string Run(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {tool}.");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(ToolTimeout))
        {
            process.Kill();
            throw new TimeoutException($"{tool} did not finish within {ToolTimeout.TotalSeconds} s.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} failed ({process.ExitCode}): {stderr.Result}");
        }

        return stdout.Result;
    }
}
