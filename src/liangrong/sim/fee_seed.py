"""The dated fee schedule of the demo firm: the firm's commission, the state's stamp duty on
sales and CSDC's transfer fee, each with the date it took effect.

Sources: stamp duty on sales only 0.1% from 2008-09-19, halved to 0.05% from 2023-08-28
(Ministry of Finance notice); transfer fee 0.002% of value on both exchanges from
2015-08-01, halved to 0.001% from 2022-04-29 (CSDC notice); commission is the demo firm's
own (0.025%, at least 5 yuan an order).
"""

from __future__ import annotations

from datetime import date

from liangrong.domain.fees import FeeSchedule
from liangrong.domain.versions import History, Version

COMMISSION_PPM = 250
COMMISSION_MINIMUM_FEN = 5_00


def fee_history() -> History[FeeSchedule]:
    def schedule(stamp_ppm: int, transfer_ppm: int) -> FeeSchedule:
        return FeeSchedule(COMMISSION_PPM, COMMISSION_MINIMUM_FEN, stamp_ppm, transfer_ppm)

    return History(
        (
            Version("2015-08-01", date(2015, 8, 1), schedule(1000, 20), "CSDC transfer fee 0.002%"),
            Version(
                "2022-04-29", date(2022, 4, 29), schedule(1000, 10), "CSDC transfer fee 0.001%"
            ),
            Version(
                "2023-08-28", date(2023, 8, 28), schedule(500, 10), "stamp duty halved to 0.05%"
            ),
        )
    )


def fee_schedule_on(on: date) -> FeeSchedule:
    version = fee_history().version_at(on)
    if version is None:
        raise LookupError(f"no fee schedule in force on {on}")
    return version.value
