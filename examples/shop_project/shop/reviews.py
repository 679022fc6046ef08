"""The product page's review widget: star ratings, newest first."""

from rest_framework import generics, serializers

from .models import Review


class ReviewSummarySerializer(serializers.ModelSerializer):
    author_name = serializers.CharField(source="author.get_username", read_only=True)

    class Meta:
        model = Review
        fields = ["id", "rating", "author_name"]


class ProductReviewList(generics.ListAPIView):
    queryset = Review.objects.order_by("-id")
    serializer_class = ReviewSummarySerializer

    def filter_queryset(self, queryset):
        return queryset.filter(product_id=self.kwargs["product_pk"])
