"""The live camera preview: mirrored like a looking-glass, with a guide frame for where the
face should be and the detected face's box (green when the guidance is satisfied).

The guide is as tall as the faces the quality gate accepts best: halfway between its
"too far" (``min_face_px``) and "too close" (``max_face_fraction``) limits, so a patient who
fills the oval is never told to come closer or step back."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ui import theme

FACE_ASPECT = 0.8  # a detected face box is about this wide for its height
DEFAULT_FRAME_H = 480  # until a frame arrives


def guide_height(min_face_px: float, max_face_fraction: float, frame_h: int) -> float:
    """The guide oval's height as a fraction of the frame's: the middle of what passes."""
    return (min(1.0, min_face_px / frame_h) + max_face_fraction) / 2


class CameraPreview(QWidget):
    def __init__(self, min_face_px: float = 64, max_face_fraction: float = 0.85,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.min_face_px = min_face_px
        self.max_face_fraction = max_face_fraction
        self._image: QImage | None = None
        self._box: QRectF | None = None
        self.good = False  # the current guidance says the face is usable
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 120)

    def sizeHint(self) -> QSize:
        return QSize(480, 360)

    def set_frame(self, image: QImage, box: QRectF | None) -> None:
        self._image, self._box = image, box
        self.update()

    def clear(self) -> None:
        self._image, self._box = None, None
        self.update()

    @property
    def has_image(self) -> bool:
        return self._image is not None

    def _target(self) -> QRectF:
        """Where the image is drawn: centred, aspect kept (4:3 until a frame arrives)."""
        iw, ih = (self._image.width(), self._image.height()) if self._image else (4, 3)
        scale = min(self.width() / iw, self.height() / ih)
        w, h = iw * scale, ih * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        target = self._target()
        painter.fillRect(target, QColor(theme.PANEL))
        if self._image is not None:
            painter.save()  # mirror by transform: no copy of the image per paint
            painter.translate(target.right(), target.top())
            painter.scale(-1.0, 1.0)
            painter.drawImage(QRectF(0, 0, target.width(), target.height()), self._image)
            painter.restore()
        line = max(3.0, target.width() / 120)
        fraction = guide_height(self.min_face_px, self.max_face_fraction,
                                self._image.height() if self._image else DEFAULT_FRAME_H)
        guide = QRectF(0, 0, target.height() * fraction * FACE_ASPECT,
                       target.height() * fraction)
        guide.moveCenter(target.center())
        painter.setPen(QPen(QColor(theme.ACCENT if self.good else theme.MUTED), line,
                            Qt.PenStyle.DashLine))
        painter.drawEllipse(guide)
        if self._image is not None and self._box is not None:
            scale = target.width() / self._image.width()
            box = self._box
            mirrored_x = self._image.width() - box.x() - box.width()
            face = QRectF(target.x() + mirrored_x * scale, target.y() + box.y() * scale,
                          box.width() * scale, box.height() * scale)
            painter.setPen(QPen(QColor(theme.GOOD if self.good else theme.WARN), line))
            corner = min(face.width(), face.height()) / 4
            for x, y, dx, dy in ((face.left(), face.top(), 1, 1), (face.right(), face.top(), -1, 1),
                                 (face.left(), face.bottom(), 1, -1),
                                 (face.right(), face.bottom(), -1, -1)):
                painter.drawLine(QPointF(x, y), QPointF(x + dx * corner, y))
                painter.drawLine(QPointF(x, y), QPointF(x, y + dy * corner))
        painter.end()
