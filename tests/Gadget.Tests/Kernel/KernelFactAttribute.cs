using Gadget.Bpf;
using Xunit;

namespace Gadget.Tests.Kernel;

/// <summary>
/// A test that loads real BPF programs: it needs root and the kernel's BTF. Elsewhere it is
/// skipped, except in CI (<c>CI=true</c>), where a missing privilege must fail loudly instead of
/// turning the kernel suite silently green.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class KernelFactAttribute : FactAttribute
{
    public KernelFactAttribute()
    {
        if (IsCi)
        {
            return;
        }

        if (!Environment.IsPrivilegedProcess)
        {
            Skip = "Kernel test: needs root (run as root, or set CI=true to make this a failure).";
        }
        else if (!File.Exists(BpfOpenOptions.DefaultKernelBtfPath))
        {
            Skip = $"Kernel test: needs the kernel's BTF at {BpfOpenOptions.DefaultKernelBtfPath}.";
        }
    }

    internal static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// Kernel tests run one at a time: they count loaded programs and watch host-wide activity, which
/// a concurrent trace would disturb.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class KernelTests
{
    public const string Name = "Kernel";
}
