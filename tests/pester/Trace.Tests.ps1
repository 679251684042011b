#Requires -Version 7.6
# Traces through one shared agent (started here on a private socket) with real process activity.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    $script:SkipKernel = -not (Test-KernelTracing)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force
    $script:Agent = Enter-TestAgent -ModulePath $ModulePath
}

AfterAll {
    Exit-TestAgent $script:Agent
}

Describe 'Trace-GadgetExec -Local' -Skip:$SkipKernel {
    Context 'a process this test starts' {
        BeforeAll {
            $marker = New-Marker
            $activity = Start-ExecActivity -Marker $marker
            try {
                $script:ExecEvent = Trace-GadgetExec -Local -Duration 20 |
                    Where-Object { $_.Args -contains $marker } |
                    Select-Object -First 1
            }
            finally {
                $script:StartedPids = @(Stop-ExecActivity $activity)
            }
            $script:Marker = $marker
        }

        It 'is reported as a Gadget.ExecEvent' {
            $ExecEvent | Should -Not -BeNullOrEmpty
            $ExecEvent | Should -BeOfType ([Gadget.ExecEvent])
        }

        It 'has the pid the process had' {
            $ExecEvent.Pid | Should -BeIn $StartedPids
            $ExecEvent.Tid | Should -Be $ExecEvent.Pid
        }

        It 'has this PowerShell as its parent' {
            $ExecEvent.Ppid | Should -Be $PID
        }

        It 'has the user and group ids of this PowerShell' {
            $ExecEvent.Uid | Should -Be ([uint](& id -u))
            $ExecEvent.Gid | Should -Be ([uint](& id -g))
        }

        It 'has the kernel''s name, the file executed and the argument vector' {
            $ExecEvent.Comm | Should -BeExactly 'true'
            $ExecEvent.ExePath | Should -BeExactly '/bin/true'
            @($ExecEvent.Args) | Should -Be @('/bin/true', $Marker)
            $ExecEvent.Args.Count | Should -Be 2
            $ExecEvent.Args.ToString() | Should -BeExactly "/bin/true $Marker"
            $ExecEvent.ArgsTruncated | Should -BeFalse
            $ExecEvent.Error | Should -Be ([Gadget.Errno]::None)
        }

        It 'has a recent local timestamp and this host''s namespaces' {
            $ExecEvent.Timestamp.Kind | Should -Be ([DateTimeKind]::Local)
            ((Get-Date) - $ExecEvent.Timestamp).TotalMinutes | Should -BeLessThan 2
            $ExecEvent.MountNsId | Should -Be ([ulong]((Get-Item /proc/self/ns/mnt).Target -replace '\D', ''))
            $ExecEvent.NetNsId | Should -Be ([ulong]((Get-Item /proc/self/ns/net).Target -replace '\D', ''))
            $ExecEvent.Pod | Should -BeNullOrEmpty
            $ExecEvent.Container | Should -BeNullOrEmpty
        }

        It 'exports to CSV with the command line in the Args column' {
            $path = Join-Path $TestDrive 'execs.csv'
            $ExecEvent | Export-Csv -Path $path
            Get-Content $path -Raw | Should -Not -Match 'System\.String\[\]|Gadget\.ArgumentList'
            $row = Import-Csv -Path $path
            $row.Args | Should -BeExactly "/bin/true $Marker"
            $row.Pid | Should -Be $ExecEvent.Pid
            $row.Ppid | Should -Be $PID
            $row.Comm | Should -BeExactly 'true'
            $row.ExePath | Should -BeExactly '/bin/true'
            $row.ArgsTruncated | Should -BeExactly 'False'
        }

        It 'converts to JSON with Args as an array' {
            $json = $ExecEvent | ConvertTo-Json -Compress
            $json | Should -Match ('"Args":\["/bin/true","' + $Marker + '"\]')
            $parsed = $json | ConvertFrom-Json
            $parsed.Args.GetType().IsArray | Should -BeTrue
            $parsed.Args | Should -Be @('/bin/true', $Marker)
            $parsed.Pid | Should -Be $ExecEvent.Pid
            $parsed.Comm | Should -BeExactly 'true'
        }

        It 'renders as a table with the PID, PPID, COMM and ARGS columns' {
            $table = $ExecEvent | Out-String -Width 200
            $header = ($table -split "`n" | Where-Object { $_ -match '\bPID\b' } | Select-Object -First 1)
            $header | Should -Not -BeNullOrEmpty
            foreach ($column in 'TIME', 'PID', 'PPID', 'UID', 'COMM', 'ARGS') {
                $header | Should -Match "\b$column\b"
            }
            $table | Should -Match ([regex]::Escape("/bin/true $Marker"))
            $table | Should -Match "\b$($ExecEvent.Pid)\b\s+\b$PID\b\s+0\s+true\b"
        }
    }

    Context 'filters' {
        BeforeAll {
            $script:FilterMarker = New-Marker
            $script:TrueActivity = Start-ExecActivity -Marker $FilterMarker -Path /bin/true -IntervalMilliseconds 100
            $script:EchoActivity = Start-ExecActivity -Marker $FilterMarker -Path /bin/echo -IntervalMilliseconds 100
        }

        AfterAll {
            Stop-ExecActivity $TrueActivity | Out-Null
            Stop-ExecActivity $EchoActivity | Out-Null
        }

        It 'Where-Object on Comm keeps only that process name' {
            $events = @(Trace-GadgetExec -Local -Duration 3)
            $mine = @($events | Where-Object { $_.Args -contains $FilterMarker })
            @($mine.Comm | Sort-Object -Unique) | Should -Be @('echo', 'true')

            $kept = @($events | Where-Object Comm -eq 'echo')
            $kept.Count | Should -BeGreaterThan 0
            $kept.Comm | Should -Not -Contain 'true'
            @($kept | Where-Object { $_.Args -contains $FilterMarker }).Count | Should -BeGreaterThan 0
        }

        It '-Comm filters in the kernel' {
            $events = @(Trace-GadgetExec -Local -Comm echo -Duration 3)
            $events.Count | Should -BeGreaterThan 0
            @($events.Comm | Sort-Object -Unique) | Should -Be @('echo')
            @($events | Where-Object { $_.Args -contains $FilterMarker }).Count | Should -BeGreaterThan 0
        }

        It '-Uid filters in the kernel' {
            @(Trace-GadgetExec -Local -Uid 0 -Comm echo -MaxEvents 2 -Duration 10).Count | Should -Be 2
            @(Trace-GadgetExec -Local -Uid 4242 -Comm echo -Duration 2) | Should -BeNullOrEmpty
        }

        It '-Pid keeps only that process' {
            # A shell that sleeps, then replaces itself (exec) with /bin/echo: same pid, new program.
            $marker = New-Marker
            $shell = [Diagnostics.Process]::Start('/bin/sh', [string[]]@('-c', "sleep 3; exec /bin/echo $marker >/dev/null"))
            $shellPid = $shell.Id
            try {
                $events = @(Trace-GadgetExec -Local -Pid $shellPid -Duration 10 -MaxEvents 1)
            }
            finally { $shell.WaitForExit(); $shell.Dispose() }
            $events.Count | Should -Be 1
            $events[0].Pid | Should -Be $shellPid
            $events[0].Comm | Should -BeExactly 'echo'
            @($events[0].Args) | Should -Be @('/bin/echo', $marker)
        }
    }

    Context 'failed execs' {
        It '-IncludeFailed reports an exec that failed, with its errno' {
            $missing = "/nonexistent/$(New-Marker)"
            $job = Start-ThreadJob { param($Path) 1..40 | ForEach-Object { Start-Sleep -Milliseconds 250; & /bin/sh -c "$Path 2>/dev/null" } } -ArgumentList $missing
            try {
                $failed = Trace-GadgetExec -Local -IncludeFailed -Duration 15 |
                    Where-Object ExePath -eq $missing | Select-Object -First 1
            }
            finally { $job | Remove-Job -Force }
            $failed | Should -Not -BeNullOrEmpty
            $failed.Error | Should -Be ([Gadget.Errno]::ENOENT)
            $failed.Comm | Should -BeExactly 'sh'
            Wait-Condition { (Get-ExecProgramCount -ProcessId $Agent.Process.Id) -eq 0 } -Timeout '00:00:05' |
                Should -BeTrue -Because 'the syscall tracepoints cost on every syscall and must not outlive the trace'
        }

        It 'leaves failed execs out without -IncludeFailed' {
            $missing = "/nonexistent/$(New-Marker)"
            $job = Start-ThreadJob { param($Path) 1..12 | ForEach-Object { Start-Sleep -Milliseconds 250; & /bin/sh -c "$Path 2>/dev/null" } } -ArgumentList $missing
            try {
                $events = @(Trace-GadgetExec -Local -Duration 3)
            }
            finally { $job | Remove-Job -Force }
            @($events | Where-Object { $_.Comm -eq 'sh' -and $_.Args -contains '-c' }).Count | Should -BeGreaterThan 0 -Because 'the shells themselves start'
            @($events | Where-Object ExePath -eq $missing) | Should -BeNullOrEmpty
            @($events | Where-Object Error -ne 'None') | Should -BeNullOrEmpty
        }
    }
}

Describe 'How a trace ends' -Skip:$SkipKernel {
    BeforeAll {
        $script:Activity = Start-ExecActivity -Marker (New-Marker) -IntervalMilliseconds 100 -For '00:05:00'
        $script:Baseline = Get-ExecProgramCount -ProcessId $Agent.Process.Id
    }

    AfterAll {
        Stop-ExecActivity $Activity | Out-Null
    }

    It 'holds no exec program in the shared agent between traces' {
        $Baseline | Should -Be 0
    }

    It 'Select-Object -First 1 returns promptly and the programs are detached (run <_>)' -ForEach (1..20) {
        $run = Invoke-Measured { Trace-GadgetExec -Local -Comm true | Select-Object -First 1 }
        $run.Output.Count | Should -Be 1
        $run.Output[0].Comm | Should -BeExactly 'true'
        $run.Elapsed.TotalSeconds | Should -BeLessThan 5
        Wait-Condition { (Get-ExecProgramCount -ProcessId $Agent.Process.Id) -eq $Baseline } -Timeout '00:00:05' |
            Should -BeTrue -Because 'the agent detaches a trace''s programs when the client goes away'
    }

    It '-MaxEvents <_> writes exactly that many events and ends promptly' -ForEach 1, 5 {
        $run = Invoke-Measured { Trace-GadgetExec -Local -Comm true -MaxEvents $_ }
        $run.Output.Count | Should -Be $_
        $run.Elapsed.TotalSeconds | Should -BeLessThan 5
        Wait-Condition { (Get-ExecProgramCount -ProcessId $Agent.Process.Id) -eq $Baseline } -Timeout '00:00:05' | Should -BeTrue
    }

    It '-Duration <Duration> runs about <Seconds> s' -ForEach @(
        @{ Duration = 2; Seconds = 2 }
        @{ Duration = '1500ms'; Seconds = 1.5 }
        @{ Duration = [timespan]'00:00:02'; Seconds = 2 }
    ) {
        $run = Invoke-Measured { Trace-GadgetExec -Local -Duration $Duration }
        $run.Elapsed.TotalSeconds | Should -BeGreaterOrEqual ($Seconds - 0.2)
        $run.Elapsed.TotalSeconds | Should -BeLessThan ($Seconds + 5)
        $run.Output.Count | Should -BeGreaterThan 0 -Because 'the activity runs /bin/true ten times a second'
        Wait-Condition { (Get-ExecProgramCount -ProcessId $Agent.Process.Id) -eq $Baseline } -Timeout '00:00:05' | Should -BeTrue
    }

    It '-Statistics after -MaxEvents <_> writes the final counters, Delivered equal to the events written' -ForEach 1, 5 {
        $output = @(Trace-GadgetExec -Local -Comm true -MaxEvents $_ -Statistics)
        $output.Count | Should -Be ($_ + 1)
        $output[0..($_ - 1)] | ForEach-Object { $_ | Should -BeOfType ([Gadget.ExecEvent]) }
        $statistics = $output[-1]
        $statistics | Should -BeOfType ([Gadget.TraceStatistics])
        $statistics.Final | Should -BeTrue -Because 'the cmdlet waits for the counters the agent sends at the end'
        $statistics.Delivered | Should -Be $_
        $statistics.Lost | Should -Be 0
        $statistics.Node | Should -Be $output[0].Node
    }

    It '-Statistics after -Duration accounts for every event written' {
        $output = @(Trace-GadgetExec -Local -Comm true -Duration 2 -Statistics)
        $events = @($output | Where-Object { $_ -is [Gadget.ExecEvent] })
        $events.Count | Should -BeGreaterThan 0 -Because 'the activity runs /bin/true ten times a second'
        $output.Count | Should -Be ($events.Count + 1)
        $statistics = $output[-1]
        $statistics | Should -BeOfType ([Gadget.TraceStatistics])
        $statistics.Final | Should -BeTrue
        $statistics.Delivered | Should -Be $events.Count
        $statistics.Lost | Should -Be 0
    }

    It '-Verbose says how many events the cmdlet wrote' {
        $output = @(Trace-GadgetExec -Local -Comm true -Duration 2 -Verbose 4>&1)
        $verbose = @($output | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] })
        $events = @($output | Where-Object { $_ -is [Gadget.ExecEvent] })
        $ended = @($verbose | Where-Object Message -Match '^Trace ended.*: (\d+) events delivered')
        $ended.Count | Should -Be 1
        $delivered = [long]([regex]::Match($ended[0].Message, '(\d+) events delivered').Groups[1].Value)
        $delivered | Should -BeGreaterThan 0 -Because 'the activity runs /bin/true ten times a second'
        $delivered | Should -Be $events.Count
        $verbose[-1].Message | Should -BeExactly "Wrote $($events.Count) events."
    }

    It 'writes no counters without -Statistics' {
        @(Trace-GadgetExec -Local -Comm true -MaxEvents 2 | Where-Object { $_ -is [Gadget.TraceStatistics] }).Count | Should -Be 0
    }

    It 'stopping the pipeline (Ctrl+C) ends the trace promptly and detaches the programs' {
        $shell = [powershell]::Create()
        try {
            $null = $shell.AddScript("Import-Module '$(Join-Path $ModulePath 'Gadget.psd1')'; Trace-GadgetExec -Local -Comm true")
            $output = [Management.Automation.PSDataCollection[psobject]]::new()
            $null = $shell.BeginInvoke([Management.Automation.PSDataCollection[psobject]]$null, $output)
            Wait-Condition { $output.Count -gt 0 } -Timeout '00:00:15' | Should -BeTrue -Because 'the trace streams events while it runs'
            (Get-ExecProgramCount -ProcessId $Agent.Process.Id) | Should -Be ($Baseline + 1)

            $stop = Invoke-Measured { $shell.Stop() }
            $stop.Elapsed.TotalSeconds | Should -BeLessThan 5
            $shell.InvocationStateInfo.State | Should -Be 'Stopped'
        }
        finally { $shell.Dispose() }
        Wait-Condition { (Get-ExecProgramCount -ProcessId $Agent.Process.Id) -eq $Baseline } -Timeout '00:00:05' | Should -BeTrue
    }
}

Describe 'A trace that cannot keep up' -Skip:$SkipKernel {
    BeforeAll {
        # The flood gadget writes records-per-call events for each getppid() of the traced process:
        # 65536 at once overflow the kernel ring, whatever reads it.
        if (-not ('Gadget.Tests.Libc' -as [type])) {
            Add-Type -Namespace Gadget.Tests -Name Libc -MemberDefinition '[DllImport("libc")] public static extern int getppid();'
        }
    }

    It 'warns of the loss while it runs, and -Statistics counts it' {
        $producer = Start-ThreadJob { 1..40 | ForEach-Object { [void][Gadget.Tests.Libc]::getppid(); Start-Sleep -Milliseconds 100 } }
        try {
            $seen = [ordered]@{ Events = 0; EventsAfterWarning = 0; Warnings = 0; Statistics = $null }
            Start-GadgetTrace flood -Local -Pid $PID -Parameter @{ 'records-per-call' = 65536 } -Duration 5 -Statistics 3>&1 |
                ForEach-Object {
                    if ($_ -is [Management.Automation.WarningRecord]) { $seen.Warnings++ }
                    elseif ($_ -is [Gadget.TraceStatistics]) { $seen.Statistics = $_ }
                    else {
                        $seen.Events++
                        if ($seen.Warnings -gt 0) { $seen.EventsAfterWarning++ }
                    }
                }
        }
        finally { $producer | Remove-Job -Force }

        $seen.Warnings | Should -BeGreaterThan 0
        $seen.EventsAfterWarning | Should -BeGreaterThan 0 -Because 'the first warning comes while events still flow, not at the end'
        $statistics = $seen.Statistics
        $statistics | Should -BeOfType ([Gadget.TraceStatistics])
        $statistics.Final | Should -BeTrue
        $statistics.Delivered | Should -Be $seen.Events
        $statistics.LostKernel | Should -BeGreaterThan 0
        $statistics.Seen + $statistics.LostKernel | Should -Be ($statistics.Delivered + $statistics.Lost) -Because 'every record is delivered or lost, and counted once'
    }
}

Describe 'Start-GadgetTrace -Local' -Skip:$SkipKernel {
    BeforeAll {
        $script:StartMarker = New-Marker
        $script:StartActivity = Start-ExecActivity -Marker $StartMarker -IntervalMilliseconds 100
    }

    AfterAll {
        Stop-ExecActivity $StartActivity | Out-Null
    }

    It '-Gadget exec writes ExecEvent objects' {
        $events = @(Start-GadgetTrace -Local -Gadget exec -Comm true -MaxEvents 3 -Duration 15)
        $events.Count | Should -Be 3
        foreach ($e in $events) {
            $e | Should -BeOfType ([Gadget.ExecEvent])
            $e.PSObject.TypeNames[0] | Should -BeExactly 'Gadget.ExecEvent'
            $e.Comm | Should -BeExactly 'true'
        }
        @($events | Where-Object { $_.Args -contains $StartMarker }).Count | Should -BeGreaterThan 0
    }

    It 'takes the gadget name by position and gadget parameters as a hashtable' {
        $missing = "/nonexistent/$(New-Marker)"
        $job = Start-ThreadJob { param($Path) 1..40 | ForEach-Object { Start-Sleep -Milliseconds 250; & /bin/sh -c "$Path 2>/dev/null" } } -ArgumentList $missing
        try {
            $failed = Start-GadgetTrace exec -Local -Parameter @{ 'include-failed' = $true } -Duration 15 |
                Where-Object ExePath -eq $missing | Select-Object -First 1
        }
        finally { $job | Remove-Job -Force }
        $failed.Error | Should -Be ([Gadget.Errno]::ENOENT)
    }
}

Describe 'Get-GadgetVersion -Local' -Skip:$SkipKernel {
    BeforeAll {
        $script:Version = Get-GadgetVersion -Local
    }

    It 'returns one GadgetVersion' {
        @($Version).Count | Should -Be 1
        $Version | Should -BeOfType ([Gadget.GadgetVersion])
    }

    It 'reports the client version of the imported module' {
        $Version.ClientVersion | Should -BeExactly (Get-Module Gadget).Version.ToString()
    }

    It 'reports the agent version, the protocol and the kernel it runs on' {
        $Version.AgentVersion | Should -Match '^\d+\.\d+\.\d+'
        $Version.ProtocolVersion | Should -BeGreaterThan 0
        $Version.Kernel | Should -BeExactly (Get-Content /proc/sys/kernel/osrelease -Raw).Trim()
    }

    It 'lists the gadgets, exec among them' {
        $Version.Gadgets | Should -Contain 'exec'
    }

    It 'says which agent answered' {
        $Version.Agent | Should -BeExactly $Agent.Socket
    }

    It 'renders as a list' {
        $text = $Version | Out-String -Width 200
        $text | Should -Match 'Agent version\s*:\s*\d'
        $text | Should -Match 'Gadgets\s*:\s*.*\bexec\b'
    }
}
