#Requires -Version 7.6
# Get-GadgetTopBlockIO through one shared agent (started here on a private socket): real direct
# writes, with dd, to a loop device this test makes over a file of its own; and the same from two
# runc containers given that device, for enrichment and selection.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    $script:SkipKernel = -not (Test-KernelTracing)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force
    $script:Agent = Enter-TestAgent -ModulePath $ModulePath
    if (Test-KernelTracing) {

        # A 32 MiB loop device over a file in a directory of the test's own.
        $script:Scratch = New-TestDirectory 'gadget-top'
        $script:Backing = Join-Path $Scratch 'disk.img'
        $file = [IO.File]::Create($Backing)
        $file.SetLength(32MB)
        $file.Dispose()
        $script:Loop = (& losetup -f --show $Backing).Trim()
        if ($LASTEXITCODE -ne 0) { throw "losetup could not make a loop device over $Backing." }
        $script:LoopName = Split-Path $Loop -Leaf
        $script:LoopNumbers = (Get-Content "/sys/class/block/$LoopName/dev").Trim() -split ':'

        # dd writing 1 MiB with O_DIRECT (and an fsync) to the loop device, five times a second.
        $script:Writer = Start-ThreadJob -ArgumentList $Loop -ScriptBlock {
            param($Loop)
            $watch = [Diagnostics.Stopwatch]::StartNew()
            while ($watch.Elapsed -lt [timespan]'00:03:00') {
                $dd = [Diagnostics.Process]::Start('/usr/bin/dd', [string[]]@('if=/dev/zero', "of=$Loop", 'bs=64k', 'count=16', 'oflag=direct', 'conv=fsync', 'status=none'))
                $dd.WaitForExit()
                $dd.Dispose()
                Start-Sleep -Milliseconds 200
            }
        }
    }

    $script:Ansi = '\x1b\[[0-9;]*m'
}

AfterAll {
    if ($script:Writer) { $Writer | Stop-Job; $Writer | Remove-Job -Force }
    Exit-TestAgent $script:Agent
    if ($script:Loop) { & losetup -d $Loop }
    if ($script:Scratch) { Remove-Item $Scratch -Recurse -Force -ErrorAction Ignore }
}

Describe 'Get-GadgetTopBlockIO -Local' -Skip:$SkipKernel {
    Context '-Interval 2 -Count 2 | Export-Csv' {
        BeforeAll {
            $script:Before = Get-Date
            $script:Rows = @(Get-GadgetTopBlockIO -Local -Interval 2 -Count 2)
            $script:After = Get-Date
            $script:Csv = Join-Path $Scratch 'io.csv'
            $Rows | Export-Csv -Path $Csv
            $script:Table = @(Import-Csv -Path $Csv)
            $script:Mine = @($Rows | Where-Object { $_.DeviceName -eq $LoopName -and $_.Comm -eq 'dd' })
        }

        It 'writes Gadget.TopBlockIORow objects' {
            $Rows.Count | Should -BeGreaterThan 0
            $Rows | ForEach-Object { $_ | Should -BeOfType ([Gadget.TopBlockIORow]) }
        }

        It "counts dd's direct writes on the loop device, per process" {
            $Mine.Count | Should -BeGreaterThan 0
            foreach ($row in $Mine) {
                $row.Major | Should -Be ([uint32]$LoopNumbers[0])
                $row.Minor | Should -Be ([uint32]$LoopNumbers[1])
                $row.Writes | Should -BeGreaterOrEqual 1
                $row.Bytes | Should -BeGreaterThan 0
                $row.Bytes % 64KB | Should -Be 0
                $row.Time | Should -BeGreaterThan ([timespan]::Zero)
                $row.Pid | Should -BeGreaterThan 0
            }
            @($Mine.Pid | Sort-Object -Unique).Count | Should -Be $Mine.Count -Because 'each dd process is one row of the window it wrote in'
        }

        It 'gives two windows of two seconds, within the command run' {
            $windows = @($Rows | Group-Object { $_.IntervalEnd.Ticks })
            $windows.Count | Should -Be 2
            foreach ($row in $Rows) {
                $row.IntervalStart | Should -BeGreaterOrEqual $Before.AddSeconds(-1)
                $row.IntervalEnd | Should -BeLessOrEqual $After
                ($row.IntervalEnd - $row.IntervalStart).TotalSeconds | Should -BeGreaterOrEqual 1.5
                ($row.IntervalEnd - $row.IntervalStart).TotalSeconds | Should -BeLessOrEqual 3
                $row.Timestamp | Should -Be $row.IntervalEnd
            }
            $first, $second = $windows | Sort-Object Name | ForEach-Object { $_.Group[0] }
            $second.IntervalStart | Should -Be $first.IntervalEnd -Because 'windows follow one another with no gap'
        }

        It 'sorts each window by Bytes, at most 20 rows' {
            foreach ($window in $Rows | Group-Object { $_.IntervalEnd.Ticks }) {
                $window.Count | Should -BeLessOrEqual 20
                $bytes = @($window.Group.Bytes)
                $bytes | Should -Be @($bytes | Sort-Object -Descending)
            }
        }

        It 'exports as a tidy table' {
            $Table.Count | Should -Be $Rows.Count
            $columns = $Table[0].PSObject.Properties.Name
            foreach ($name in 'IntervalStart', 'IntervalEnd', 'Pid', 'Comm', 'Namespace', 'Pod', 'Major', 'Minor', 'DeviceName', 'Reads', 'Writes', 'Bytes', 'Time') {
                $columns | Should -Contain $name
            }
            $line = $Table | Where-Object { $_.DeviceName -eq $LoopName -and $_.Comm -eq 'dd' } | Select-Object -First 1
            [uint64]$line.Bytes | Should -BeGreaterThan 0
            [datetime]$line.IntervalEnd | Should -BeOfType ([datetime])
            [timespan]$line.Time | Should -BeGreaterThan ([timespan]::Zero)
        }

        It 'renders as a table within 120 columns, every header whole' {
            $lines = @(($Mine | Format-Table | Out-String -Width 120) -replace $Ansi -split "`r?`n" | Where-Object { $_.Trim() })
            $lines[0].TrimEnd() | Should -Match '^TIME\s+PID\s+COMM\s+MAJ:MIN\s+DEVICE\s+READS\s+WRITES\s+BYTES\s+TIME\(µs\)$'
            $lines[2] | Should -Match "\bdd\s+$($LoopNumbers[0]):$($LoopNumbers[1])\s+$LoopName\b"
            foreach ($line in $lines) { $line.TrimEnd().Length | Should -BeLessOrEqual 120 }
        }
    }

    It '-Top 1 keeps the busiest row of each window' {
        $rows = @(Get-GadgetTopBlockIO -Local -Interval 1 -Count 2 -Top 1)
        $rows.Count | Should -BeLessOrEqual 2
        @($rows | Group-Object { $_.IntervalEnd.Ticks } | Where-Object Count -gt 1) | Should -BeNullOrEmpty
    }

    It '-Pid counts only that process, in the kernel' {
        $rows = @(Get-GadgetTopBlockIO -Local -Interval 1 -Count 2 -Pid 1 -Top 0)
        $rows | Where-Object Pid -ne 1 | Should -BeNullOrEmpty
    }

    It '-Duration cuts the last window short' {
        $rows = @(Get-GadgetTopBlockIO -Local -Interval 2 -Duration 3 -Top 0 -Statistics)
        $statistics = @($rows | Where-Object { $_ -is [Gadget.TraceStatistics] })
        $statistics.Count | Should -Be 1
        $statistics[0].Final | Should -BeTrue
        $last = $rows | Where-Object { $_ -is [Gadget.TopBlockIORow] } | Sort-Object IntervalEnd | Select-Object -Last 1
        if ($last) { ($last.IntervalEnd - $last.IntervalStart).TotalSeconds | Should -BeLessThan 1.9 }
    }

    It 'refuses an interval under 100 ms' {
        { Get-GadgetTopBlockIO -Local -Interval 50ms -Count 1 -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidInterval,Gadget.Commands.GetTopBlockIOCommand'
    }

    Context 'in a fresh pwsh, as a runbook sees it' {
        It 'prints the default view within 120 columns' {
            $command = "Import-Module '$(Join-Path $ModulePath 'Gadget.psd1')'; Get-GadgetTopBlockIO -Local -Interval 1 -Count 2 | Out-String -Width 120"
            $run = Invoke-FreshPwsh $command
            $run.ExitCode | Should -Be 0 -Because ($run.Errors -replace $Ansi)
            $lines = @($run.Output -replace $Ansi -split "`r?`n" | Where-Object { $_.Trim() })
            $lines[0].TrimEnd() | Should -Match '^TIME\s+PID\s+COMM\s+MAJ:MIN'
            @($lines | Where-Object { $_ -match "\bdd\s+\d+:\d+\s+$LoopName\b" }).Count | Should -BeGreaterThan 0
            foreach ($line in $lines) { $line.TrimEnd().Length | Should -BeLessOrEqual 120 }
        }
    }
}

Describe 'Start-GadgetTrace -Local -Gadget top_blockio' -Skip:$SkipKernel {
    It 'writes the windows of the top, largest first' {
        $rows = @(Start-GadgetTrace -Local -Gadget top_blockio -Duration 2.5)
        $rows | ForEach-Object { $_ | Should -BeOfType ([Gadget.TopBlockIORow]) }
        @($rows | Where-Object { $_.DeviceName -eq $LoopName }).Count | Should -BeGreaterThan 0
    }
}

Describe 'Get-GadgetTopBlockIO in real containers' -Skip:$SkipKernel {
    BeforeAll {
        # Two busybox-static containers run by runc alone (no containerd, nothing shared with other
        # users of this host), their bundles annotated as the kubelet labels pods topio-ns/<name>,
        # each given the test's loop device (as /dev/disk) and allowed to write it: busybox's dd
        # writes 256 KiB to it with O_DIRECT five times a second.
        $script:Bundles = New-TestDirectory 'gadget-topio-pods'

        function Start-TopPod {
            param([string] $Pod)
            $major, $minor = [long]$LoopNumbers[0], [long]$LoopNumbers[1]
            Start-RuncPod -Directory $Bundles -Namespace topio-ns -Pod $Pod -Applets sh, sleep, dd `
                -Script 'while true; do dd if=/dev/zero of=/dev/disk bs=64k count=4 oflag=direct 2>/dev/null; sleep 0.2; done' `
                -Configure {
                    param($config)
                    $config.linux.devices = @(@{ path = '/dev/disk'; type = 'b'; major = $major; minor = $minor; fileMode = 432; uid = 0; gid = 0 })
                    $config.linux.resources.devices = @($config.linux.resources.devices) + @(@{ allow = $true; type = 'b'; major = $major; minor = $minor; access = 'rwm' })
                }.GetNewClosure()
        }

        $script:Pods = @()
        $script:Pods += Start-TopPod 'topio-a'
        $script:Pods += Start-TopPod 'topio-b'
        $known = Wait-Condition { @(Get-GadgetContainer -Local -Namespace topio-ns).Count -eq 2 } -Timeout '00:00:15' -IntervalMilliseconds 250
        $known | Should -BeTrue -Because 'the agent finds runc containers within seconds'
        $script:Both = @(Get-GadgetTopBlockIO -Local -Namespace topio-ns -Interval 2 -Count 2 -Top 0)
        $script:OnlyA = @(Get-GadgetTopBlockIO -Local -Container topio-a -Interval 2 -Count 2 -Top 0)
    }

    AfterAll {
        Stop-RuncPod $script:Pods
        Remove-Item $script:Bundles -Recurse -Force -ErrorAction Ignore
    }

    It 'gives each row the pod and container of the process that wrote' {
        $Both.Count | Should -BeGreaterThan 0
        @($Both.Pod | Sort-Object -Unique) | Should -Be @('topio-a', 'topio-b')
        foreach ($row in $Both) {
            $row.Namespace | Should -BeExactly 'topio-ns'
            $row.Container | Should -BeExactly $row.Pod
            $row.Comm | Should -BeExactly 'dd'
            $row.DeviceName | Should -BeExactly $LoopName
            $row.Writes | Should -BeGreaterOrEqual 1
            $row.Bytes % 64KB | Should -Be 0
        }
    }

    It '-Container selects that container''s I/O only, in the kernel' {
        $OnlyA.Count | Should -BeGreaterThan 0
        foreach ($row in $OnlyA) {
            $row.Pod | Should -BeExactly 'topio-a'
            $row.Container | Should -BeExactly 'topio-a'
        }
    }
}
